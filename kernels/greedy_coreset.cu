// Approximate greedy coreset, fp32 or fp16 storage (the _f32/_f16 suffix of every kernel).
// Kernels:
//   coreset_init_{f32,f16}     — mean Euclidean distance of every row to the start rows (one warp per row)
//   coreset_step_{f32,f16}     — one selection: lower the minima, argmax; one warp per row, any d
//   coreset_step_vec_{f32,f16} — the same with 16-byte loads, a half-warp per row (d*size a multiple of 16)
//   to_f16                     — converts the features to fp16 storage first
// CPU twin: src/PatchCore/Backends/Cpu/GreedyCoreset.cs (the truth: src/PatchCore/Backends/Reference/GreedyCoreset.cs)
// Host side: src/PatchCore.Cuda/CudaBackend.GreedyCoreset.cs
// Test: CudaEmulatorTests (CI, on the CPU emulator) and CudaGpuTests (a real GPU), both through BackendSelfCheck.
// Benchmark: pcnative bench kernels --backend cuda
//
// Approximate greedy coreset (ALGORITHM.md "Coreset") entirely on the device. Per iteration ONE launch of
// coreset_step: it reads the previously selected row's index from device memory (selected[t-1]), lowers every
// row's running minimum distance, finds each block's argmax, and the last block to finish (threadfence +
// atomic ticket) reduces the block results and writes selected[t]. No host round trip per iteration.
// Distances are Euclidean, computed as sqrt(sum (a-b)^2) in fp32 (no |a|²+|b|²-2ab cancellation, so the
// selection matches the double-precision reference); storage may be fp32 or fp16 (half the traffic).

template <typename T>
__device__ void coreset_init_impl(const T* f, float* minD, int N, int d, const int* starts, int nStarts)
{
    int lane = threadIdx.x & 31;
    i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    i64 warps = ((i64)gridDim.x * blockDim.x) >> 5;
    for (i64 r = warp; r < N; r += warps)
    {
        float mean = 0.f;
        for (int s = 0; s < nStarts; s++)
        {
            i64 o = (i64)starts[s] * d;
            float acc = 0.f;
            for (int j = lane; j < d; j += 32)
            {
                float diff = pc_load(f, r * d + j) - pc_load(f, o + j);
                acc += diff * diff;
            }
            mean += sqrtf(pc_warp_allsum(acc));
        }
        if (lane == 0) minD[r] = mean / (float)nStarts;
    }
}

extern "C" __global__ void coreset_init_f32(const float* f, float* minD, int N, int d, const int* starts, int nStarts)
{ coreset_init_impl(f, minD, N, d, starts, nStarts); }
extern "C" __global__ void coreset_init_f16(const unsigned short* f, float* minD, int N, int d, const int* starts, int nStarts)
{ coreset_init_impl(f, minD, N, d, starts, nStarts); }

// (v, i) beats (w, j): larger distance, then lower index.
__device__ __forceinline__ bool pc_beats(float v, int i, float w, int j) { return v > w || (v == w && i < j); }

#define STEP_THREADS 256
#define STEP_WARPS (STEP_THREADS / 32)

// The end of every step: (bv, bi) is this warp's best (larger distance, then lower index, the same in every
// lane). Reduces the block's warps, then the last block to finish (threadfence + atomic ticket) reduces every
// block's result and writes selected[t]. Called by all threads of the block.
__device__ void coreset_finish(float bv, int bi, int* selected, int t, float* blockVal, int* blockIdx_, unsigned int* ticket)
{
    __shared__ float wv[STEP_WARPS];
    __shared__ int wi[STEP_WARPS];
    __shared__ bool amLast;
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    if (lane == 0) { wv[wid] = bv; wi[wid] = bi; }
    __syncthreads();
    if (threadIdx.x == 0)
    {
        float v = wv[0];
        int i = wi[0];
        for (int w = 1; w < STEP_WARPS; w++)
            if (pc_beats(wv[w], wi[w], v, i)) { v = wv[w]; i = wi[w]; }
        blockVal[blockIdx.x] = v;
        blockIdx_[blockIdx.x] = i;
        __threadfence();
        unsigned int done = atomicAdd(ticket, 1u);
        amLast = done == gridDim.x - 1;
    }
    __syncthreads();
    if (!amLast) return;
    // Last block: every other block's result is visible (they fenced before taking their ticket).
    __threadfence();
    const volatile float* vv = blockVal;
    const volatile int* vi = blockIdx_;
    float v = -PC_INF;
    int i = PC_INT_MAX;
    for (int b = threadIdx.x; b < gridDim.x; b += blockDim.x)
        if (pc_beats(vv[b], vi[b], v, i)) { v = vv[b]; i = vi[b]; }
    // block reduce through shared memory (reuse wv/wi per warp, then thread 0)
    for (int o = 16; o > 0; o >>= 1)
    {
        float ov = __shfl_down_sync(0xffffffffu, v, o);
        int oi = __shfl_down_sync(0xffffffffu, i, o);
        if (pc_beats(ov, oi, v, i)) { v = ov; i = oi; }
    }
    __syncthreads();
    if (lane == 0) { wv[wid] = v; wi[wid] = i; }
    __syncthreads();
    if (threadIdx.x == 0)
    {
        v = wv[0];
        i = wi[0];
        for (int w = 1; w < STEP_WARPS; w++)
            if (pc_beats(wv[w], wi[w], v, i)) { v = wv[w]; i = wi[w]; }
        selected[t] = i == PC_INT_MAX ? -1 : i;
        *ticket = 0u;
    }
}

// Loads the selected row selected[t-1] into shared memory (as float); update becomes 0 when there is none.
template <typename T>
__device__ __forceinline__ int coreset_load_selected(const T* f, int d, const int* selected, int t, int update, float* srow)
{
    // A failed previous selection (-1: every distance NaN) must not be used as a row index: reading row -1 is
    // out of bounds (CUDA_ERROR_ILLEGAL_ADDRESS, which poisons the context) instead of the host's clear error.
    // The value is the same for the whole block, so the branch stays uniform around __syncthreads.
    if (update && selected[t - 1] < 0) update = 0;
    if (update)
    {
        i64 sel = (i64)selected[t - 1] * d;
        for (int j = threadIdx.x; j < d; j += blockDim.x) srow[j] = pc_load(f, sel + j);
    }
    __syncthreads();
    return update;
}

// update = 0: only the argmax of the current minima (the first selection); update = 1: first lower the minima
// with the distance to selected[t-1]. Writes selected[t]. Dynamic shared memory: d floats.
// Generic version: one warp per row, lane j reads elements j, j+32, ... (any d, any alignment).
template <typename T>
__device__ void coreset_step_impl(const T* f, float* minD, int N, int d, int* selected, int t, int update,
                                  float* blockVal, int* blockIdx_, unsigned int* ticket)
{
    extern __shared__ float srow[];
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    update = coreset_load_selected(f, d, selected, t, update, srow);
    float bv = -PC_INF;
    int bi = PC_INT_MAX;
    i64 warp = (i64)blockIdx.x * STEP_WARPS + wid;
    i64 warps = (i64)gridDim.x * STEP_WARPS;
    for (i64 r = warp; r < N; r += warps)
    {
        float m = minD[r];
        if (update)
        {
            float acc = 0.f;
            for (int j = lane; j < d; j += 32)
            {
                float diff = pc_load(f, r * d + j) - srow[j];
                acc += diff * diff;
            }
            float dist = sqrtf(pc_warp_allsum(acc));
            if (dist < m) m = dist;
            if (lane == 0) minD[r] = m;
        }
        if (m > bv) { bv = m; bi = (int)r; }   // rows ascend within a warp: strict > keeps the lowest index
    }
    coreset_finish(bv, bi, selected, t, blockVal, blockIdx_, ticket);
}

// 16 bytes of a row as floats: 4 fp32 or 8 fp16 values (p 16-byte aligned).
struct alignas(16) pc_u32x4 { unsigned int a, b, c, e; };
__device__ __forceinline__ void pc_load16(const float* p, float* v)
{
    pc_u32x4 u = *reinterpret_cast<const pc_u32x4*>(p);
    v[0] = __int_as_float((int)u.a); v[1] = __int_as_float((int)u.b); v[2] = __int_as_float((int)u.c); v[3] = __int_as_float((int)u.e);
}
__device__ __forceinline__ void pc_load16(const unsigned short* p, float* v)
{
    pc_u32x4 u = *reinterpret_cast<const pc_u32x4*>(p);
    unsigned int w[4] = {u.a, u.b, u.c, u.e};
    for (int k = 0; k < 4; k++)
    {
        v[2 * k] = pc_half_to_float((unsigned short)(w[k] & 0xffffu));
        v[2 * k + 1] = pc_half_to_float((unsigned short)(w[k] >> 16));
    }
}

// Vectorised version, for rows of a whole number of 16-byte chunks on 16-byte boundaries (d a multiple of 4 for
// fp32, of 8 for fp16): each half-warp takes one row, lane s loads chunks s, s+16, ... with one 16-byte load
// each, so a warp reads two whole rows per load instruction (128-d fp16: one load per lane per row) and sums
// them with 4 shuffles, instead of 4 two-byte loads and 5 shuffles per row. The lane's chunks of the selected
// row stay in registers for up to VEC_REG_CHUNKS chunks per lane (d <= 512 fp16, 256 fp32): read from shared
// memory for every row, lanes 8 floats apart would hit the same banks (a 4-way conflict on each fp16 value).
#define VEC_REG_CHUNKS 4
template <typename T>
__device__ void coreset_step_vec_impl(const T* f, float* minD, int N, int d, int* selected, int t, int update,
                                      float* blockVal, int* blockIdx_, unsigned int* ticket)
{
    constexpr int per = 16 / (int)sizeof(T);
    extern __shared__ float srow[];
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, sub = lane & 15, half = lane >> 4;
    update = coreset_load_selected(f, d, selected, t, update, srow);
    float bv = -PC_INF;
    int bi = PC_INT_MAX;
    int chunks = d / per;
    bool inRegs = chunks <= 16 * VEC_REG_CHUNKS;
    float sel[VEC_REG_CHUNKS * per];
    for (int q = 0; q < VEC_REG_CHUNKS; q++)
        for (int k = 0; k < per; k++)
        {
            int c = sub + 16 * q;
            sel[q * per + k] = update && inRegs && c < chunks ? srow[c * per + k] : 0.f;
        }
    i64 pair = (i64)blockIdx.x * STEP_WARPS + wid;
    i64 pairs = (i64)gridDim.x * STEP_WARPS;
    // Every lane runs the same number of iterations (the row pair, not the row, is the loop variable), so the
    // shuffles below are reached by the whole warp even when the last pair has one row.
    for (i64 r0 = 2 * pair; r0 < N; r0 += 2 * pairs)
    {
        i64 r = r0 + half;
        bool valid = r < N;
        float m = valid ? minD[r] : -PC_INF;
        if (update)
        {
            float acc = 0.f;
            if (valid && inRegs)
                for (int q = 0; q < VEC_REG_CHUNKS; q++)
                {
                    int c = sub + 16 * q;
                    if (c >= chunks) break;
                    float v[per];
                    pc_load16(f + r * d + (i64)c * per, v);
                    for (int k = 0; k < per; k++)
                    {
                        float diff = v[k] - sel[q * per + k];
                        acc += diff * diff;
                    }
                }
            else if (valid)
                for (int c = sub; c < chunks; c += 16)
                {
                    float v[per];
                    pc_load16(f + r * d + (i64)c * per, v);
                    for (int k = 0; k < per; k++)
                    {
                        float diff = v[k] - srow[c * per + k];
                        acc += diff * diff;
                    }
                }
            for (int o = 8; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o); // within the half-warp
            if (valid)
            {
                float dist = sqrtf(acc);
                if (dist < m) m = dist;
                if (sub == 0) minD[r] = m;
            }
        }
        if (valid && m > bv) { bv = m; bi = (int)r; }   // rows ascend within a lane: strict > keeps the lowest index
    }
    // The two halves saw different rows: combine them so that every lane holds the warp's best.
    float ov = __shfl_xor_sync(0xffffffffu, bv, 16);
    int oi = __shfl_xor_sync(0xffffffffu, bi, 16);
    if (pc_beats(ov, oi, bv, bi)) { bv = ov; bi = oi; }
    coreset_finish(bv, bi, selected, t, blockVal, blockIdx_, ticket);
}

extern "C" __global__ void coreset_step_f32(const float* f, float* minD, int N, int d, int* selected, int t, int update,
                                            float* blockVal, int* blockIdx_, unsigned int* ticket)
{ coreset_step_impl(f, minD, N, d, selected, t, update, blockVal, blockIdx_, ticket); }
extern "C" __global__ void coreset_step_f16(const unsigned short* f, float* minD, int N, int d, int* selected, int t, int update,
                                            float* blockVal, int* blockIdx_, unsigned int* ticket)
{ coreset_step_impl(f, minD, N, d, selected, t, update, blockVal, blockIdx_, ticket); }

extern "C" __global__ void coreset_step_vec_f32(const float* f, float* minD, int N, int d, int* selected, int t, int update,
                                                float* blockVal, int* blockIdx_, unsigned int* ticket)
{ coreset_step_vec_impl(f, minD, N, d, selected, t, update, blockVal, blockIdx_, ticket); }
extern "C" __global__ void coreset_step_vec_f16(const unsigned short* f, float* minD, int N, int d, int* selected, int t, int update,
                                                float* blockVal, int* blockIdx_, unsigned int* ticket)
{ coreset_step_vec_impl(f, minD, N, d, selected, t, update, blockVal, blockIdx_, ticket); }

extern "C" __global__ void to_f16(const float* x, unsigned short* y, i64 n)
{
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
        y[i] = pc_float_to_half(x[i]);
}
