// Pooling: max and average windows, and the global average.
// Kernels:
//   maxpool_f32        — one thread per output, padded cells ignored (as -inf), NaN propagates
//   avgpool_f32        — one thread per output, padded cells count as zeros (divide by K*K)
//   global_avgpool_f32 — one warp per plane
//   maxpool_backward_f32        — training: dx per input cell, a gather over the windows whose argmax it is
//   global_avgpool_backward_f32 — training: dx = dy / (H·W) on every cell
// CPU twin: src/PatchCore/Backends/Cpu/Pooling.cs (the truth: src/PatchCore/Backends/Reference/Pooling.cs)
// Host side: src/PatchCore.Cuda/CudaBackend.Pooling.cs (backward: CudaBackend.ActivationPoolingBackward.cs)
// Test: CudaEmulatorTests (CI, on the CPU emulator) and CudaGpuTests (a real GPU), both through BackendSelfCheck;
//   the backward kernels: CudaEmulatorTrainingTests and CudaGpuTrainingTests (truth: Reference/Training/MaxPool2d.cs,
//   GlobalAvgPool.cs).
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

// The window's argmax as the reference defines it: scanned row by row, padded cells skipped, the first valid cell
// taken and a later one winning only if STRICTLY greater (ties → first, as PyTorch). Flat index in the plane.
__device__ __forceinline__ int pc_window_argmax(const float* plane, int H, int W, int K, int stride, int padT, int padL,
                                                int oy, int ox)
{
    int best = -1;
    float bv = 0.f;
    for (int ky = 0; ky < K; ky++)
    {
        int iy = oy * stride - padT + ky;
        if (iy < 0 || iy >= H) continue;
        for (int kx = 0; kx < K; kx++)
        {
            int ix = ox * stride - padL + kx;
            if (ix < 0 || ix >= W) continue;
            float v = plane[iy * W + ix];
            if (best < 0 || v > bv) { best = iy * W + ix; bv = v; }
        }
    }
    return best;
}

// dx[cell] = Σ of dy over the output windows that hold this cell and whose argmax it is, windows in row-major
// order. A gather (each thread owns one input cell and recomputes the argmax of the few windows over it) rather
// than a scatter with atomics: overlapping windows (3x3 stride 2) add up in a fixed order, bit for bit repeatable.
extern "C" __global__ void maxpool_backward_f32(const float* dy, const float* x, float* dx, int planes, int H, int W, int K,
                                                int stride, int padT, int padL, int OH, int OW)
{
    i64 total = (i64)planes * H * W;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x)
    {
        int ix = (int)(i % W);
        int iy = (int)((i / W) % H);
        i64 pl = i / ((i64)H * W);
        const float* plane = x + pl * H * W;
        const float* g = dy + pl * OH * OW;
        int me = iy * W + ix;
        // Windows oy with oy·s − padT ≤ iy ≤ oy·s − padT + K − 1 (same for x), clipped to the output.
        int oy0 = iy + padT - K + 1, oy1 = iy + padT;
        oy0 = oy0 <= 0 ? 0 : (oy0 + stride - 1) / stride;
        oy1 = oy1 < 0 ? -1 : oy1 / stride;
        if (oy1 > OH - 1) oy1 = OH - 1;
        int ox0 = ix + padL - K + 1, ox1 = ix + padL;
        ox0 = ox0 <= 0 ? 0 : (ox0 + stride - 1) / stride;
        ox1 = ox1 < 0 ? -1 : ox1 / stride;
        if (ox1 > OW - 1) ox1 = OW - 1;
        float acc = 0.f;
        for (int oy = oy0; oy <= oy1; oy++)
            for (int ox = ox0; ox <= ox1; ox++)
                if (pc_window_argmax(plane, H, W, K, stride, padT, padL, oy, ox) == me) acc += g[oy * OW + ox];
        dx[i] = acc;
    }
}

extern "C" __global__ void global_avgpool_backward_f32(const float* dy, float* dx, i64 planes, i64 hw)
{
    i64 total = planes * hw;
    float cells = (float)hw;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x)
        dx[i] = dy[i / hw] / cells;
}
