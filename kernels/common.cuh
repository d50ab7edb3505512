// Prelude prepended by the loader (KernelSource) to every kernels/*.cu before NVRTC compiles it: NVRTC sees no
// system headers, so the few types and helpers the kernels need are defined here.
typedef long long i64;
typedef unsigned long long u64;
#define PC_INF __int_as_float(0x7f800000)
#define PC_INT_MAX 2147483647

// fp16 storage as raw 16-bit patterns, converted with the PTX instructions cuda_fp16.h itself uses
// (round-to-nearest-even), so no header is needed. PC_HOST_EMULATION: the CUDA emulator of the tests
// (tests/CudaEmulator) compiles these sources for the CPU, where the same conversions are C++.
#ifndef PC_HOST_EMULATION
__device__ __forceinline__ float pc_half_to_float(unsigned short h)
{
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
__device__ __forceinline__ unsigned short pc_float_to_half(float f)
{
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}
#else
__device__ __forceinline__ float pc_half_to_float(unsigned short h) { return pc_emu_half_to_float(h); }
__device__ __forceinline__ unsigned short pc_float_to_half(float f) { return pc_emu_float_to_half(f); }
#endif
__device__ __forceinline__ float pc_load(const float* p, i64 i) { return p[i]; }
__device__ __forceinline__ float pc_load(const unsigned short* p, i64 i) { return pc_half_to_float(p[i]); }

// Sum over the warp, every lane gets the total.
__device__ __forceinline__ float pc_warp_allsum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// PyTorch's bilinear source index (align_corners=false, no scale factor given): scale = in/out,
// src = scale*(dst+0.5)-0.5 clamped at 0, i1 = i0+1 unless at the last row, lambda = src - i0.
__device__ __forceinline__ void pc_bilinear_src(int dst, int inSize, int outSize, int* i0, int* i1, float* l1)
{
    float scale = (float)inSize / (float)outSize;
    float src = scale * ((float)dst + 0.5f) - 0.5f;
    if (src < 0.f) src = 0.f;
    int a = (int)src;
    if (a > inSize - 1) a = inSize - 1;
    *i0 = a;
    *i1 = a < inSize - 1 ? a + 1 : a;
    *l1 = src - (float)a;
}

// Sum over a block of PC_REDUCE_THREADS threads in a fixed order (a tree over shared memory, no atomics), so a
// reduction repeats bit for bit; every thread gets the total. `scratch` is the caller's __shared__ double array
// of PC_REDUCE_THREADS; the last barrier lets the caller reuse it at once. Double partials: the training
// reductions (BatchNorm statistics, gradients of γ, β and biases) sum up to N·H·W values of mixed sign.
#define PC_REDUCE_THREADS 256
__device__ __forceinline__ double pc_block_sum(double v, double* scratch)
{
    scratch[threadIdx.x] = v;
    __syncthreads();
    for (int s = PC_REDUCE_THREADS / 2; s > 0; s >>= 1)
    {
        if ((int)threadIdx.x < s) scratch[threadIdx.x] += scratch[threadIdx.x + s];
        __syncthreads();
    }
    double total = scratch[0];
    __syncthreads();
    return total;
}
