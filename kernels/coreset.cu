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

// update = 0: only the argmax of the current minima (the first selection); update = 1: first lower the minima
// with the distance to selected[t-1]. Writes selected[t]. Dynamic shared memory: d floats.
template <typename T>
__device__ void coreset_step_impl(const T* f, float* minD, int N, int d, int* selected, int t, int update,
                                  float* blockVal, int* blockIdx_, unsigned int* ticket)
{
    extern __shared__ float srow[];
    __shared__ float wv[STEP_WARPS];
    __shared__ int wi[STEP_WARPS];
    __shared__ bool amLast;
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
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

extern "C" __global__ void coreset_step_f32(const float* f, float* minD, int N, int d, int* selected, int t, int update,
                                            float* blockVal, int* blockIdx_, unsigned int* ticket)
{ coreset_step_impl(f, minD, N, d, selected, t, update, blockVal, blockIdx_, ticket); }
extern "C" __global__ void coreset_step_f16(const unsigned short* f, float* minD, int N, int d, int* selected, int t, int update,
                                            float* blockVal, int* blockIdx_, unsigned int* ticket)
{ coreset_step_impl(f, minD, N, d, selected, t, update, blockVal, blockIdx_, ticket); }

extern "C" __global__ void to_f16(const float* x, unsigned short* y, i64 n)
{
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
        y[i] = pc_float_to_half(x[i]);
}
