// Pooling: max and average windows, and the global average.
// Kernels:
//   maxpool_f32        — one thread per output, padded cells ignored (as -inf), NaN propagates
//   avgpool_f32        — one thread per output, padded cells count as zeros (divide by K*K)
//   global_avgpool_f32 — one warp per plane
// CPU twin: src/PatchCore/Backends/Cpu/Pooling.cs (the truth: src/PatchCore/Backends/Reference/Pooling.cs)
// Host side: src/PatchCore.Cuda/CudaBackend.Pooling.cs
// Test: CudaEmulatorTests (CI, on the CPU emulator) and CudaGpuTests (a real GPU), both through BackendSelfCheck.
// Benchmark: pcnative bench kernels --backend cuda
//

// Max pooling over `planes` planes; padded cells are ignored (as -inf).
extern "C" __global__ void maxpool_f32(const float* x, float* y, int planes, int H, int W, int K, int stride,
                                       int padT, int padL, int OH, int OW)
{
    i64 total = (i64)planes * OH * OW;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x)
    {
        int ox = (int)(i % OW);
        int oy = (int)((i / OW) % OH);
        i64 pl = i / ((i64)OH * OW);
        const float* src = x + pl * H * W;
        float m = -PC_INF;
        for (int ky = 0; ky < K; ky++)
        {
            int iy = oy * stride - padT + ky;
            if (iy < 0 || iy >= H) continue;
            for (int kx = 0; kx < K; kx++)
            {
                int ix = ox * stride - padL + kx;
                if (ix < 0 || ix >= W) continue;
                float v = src[iy * W + ix];
                if (v > m || v != v) m = v;
            }
        }
        y[i] = m;
    }
}

// Average pooling, padded cells counted as zeros (divide by K*K always).
extern "C" __global__ void avgpool_f32(const float* x, float* y, int planes, int H, int W, int K, int stride,
                                       int padT, int padL, int OH, int OW)
{
    i64 total = (i64)planes * OH * OW;
    float inv = 1.f / (float)(K * K);
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x)
    {
        int ox = (int)(i % OW);
        int oy = (int)((i / OW) % OH);
        i64 pl = i / ((i64)OH * OW);
        const float* src = x + pl * H * W;
        float s = 0.f;
        for (int ky = 0; ky < K; ky++)
        {
            int iy = oy * stride - padT + ky;
            if (iy < 0 || iy >= H) continue;
            for (int kx = 0; kx < K; kx++)
            {
                int ix = ox * stride - padL + kx;
                if (ix < 0 || ix >= W) continue;
                s += src[iy * W + ix];
            }
        }
        y[i] = s * inv;
    }
}

// One warp per plane: y[plane] = mean of its hw values.
extern "C" __global__ void global_avgpool_f32(const float* x, float* y, int planes, int hw)
{
    int lane = threadIdx.x & 31;
    i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    i64 warps = ((i64)gridDim.x * blockDim.x) >> 5;
    for (i64 pl = warp; pl < planes; pl += warps)
    {
        const float* src = x + pl * hw;
        float s = 0.f;
        for (int j = lane; j < hw; j += 32) s += src[j];
        s = pc_warp_allsum(s);
        if (lane == 0) y[pl] = s / (float)hw;
    }
}
