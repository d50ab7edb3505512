// BatchNorm for training: batch statistics (training mode) or the running ones (frozen), forward and backward.
// Kernels:
//   bn_train_stats_f32    — per channel: batch mean, 1/sqrt(biased var + eps), running-stat update (one block per channel)
//   bn_frozen_inv_std_f32 — per channel: 1/sqrt(running var + eps) (frozen BN's scale)
//   bn_affine_f32         — y = γ·(x − μ)·inv + β (both modes; μ, inv the batch's or the running ones)
//   bn_backward_sums_f32  — per channel: dβ = Σ dy, dγ = Σ dy·x̂ (one block per channel)
//   bn_train_dx_f32       — dx of training mode: γ·inv/M · (M·dy − dβ − x̂·dγ)
//   bn_frozen_dx_f32      — dx of frozen mode: dy·γ·inv
// CPU twin: src/PatchCore/Backends/Reference/Training/BatchNorm2d.cs (frozen: Reference/Training/FrozenBatchNorm2d.cs;
//   the reference is the truth until the fast CPU backend's training ops land)
// Host side: src/PatchCore.Cuda/CudaBackend.BatchNorm2d.cs
// Test: CudaEmulatorTests' training sibling CudaEmulatorTrainingTests (CI, on the CPU emulator) and CudaGpuTrainingTests (a real GPU).
// Benchmark: pcnative bench kernels --backend cuda does not time these yet (no device has run them)
//
// Reductions are fixed-order block sums in double (pc_block_sum), one block per channel: no float atomics, so a
// step repeats bit for bit. The elementwise kernels are memory-bound grid-stride loops. Layout x [N, C, cells].

// Block c: μ = Σx/M, σ² = Σ(x − μ)²/M (two passes, as the reference), inv = 1/sqrt(σ² + eps); running
// statistics r = (1 − m)·r + m·batch with the UNBIASED variance σ²·M/(M − 1), as PyTorch. M = N·cells ≥ 2.
extern "C" __global__ void bn_train_stats_f32(const float* x, float* mean, float* invStd, float* runningMean, float* runningVar,
                                              int images, int channels, i64 cells, double momentum, double eps)
{
    __shared__ double scratch[PC_REDUCE_THREADS];
    i64 m = (i64)images * cells;
    for (int c = blockIdx.x; c < channels; c += gridDim.x)
    {
        double s = 0.0;
        for (i64 i = threadIdx.x; i < m; i += blockDim.x)
            s += x[((i / cells) * channels + c) * cells + i % cells];
        double mu = pc_block_sum(s, scratch) / (double)m;
        double q = 0.0;
        for (i64 i = threadIdx.x; i < m; i += blockDim.x)
        {
            double d = (double)x[((i / cells) * channels + c) * cells + i % cells] - mu;
            q += d * d;
        }
        q = pc_block_sum(q, scratch);
        if (threadIdx.x == 0)
        {
            double variance = q / (double)m;
            mean[c] = (float)mu;
            invStd[c] = (float)(1.0 / sqrt(variance + eps));
            runningMean[c] = (float)((1.0 - momentum) * (double)runningMean[c] + momentum * mu);
            runningVar[c] = (float)((1.0 - momentum) * (double)runningVar[c] + momentum * q / (double)(m - 1));
        }
    }
}

extern "C" __global__ void bn_frozen_inv_std_f32(const float* runningVar, float* invStd, int channels, double eps)
{
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < channels; c += gridDim.x * blockDim.x)
        invStd[c] = (float)(1.0 / sqrt((double)runningVar[c] + eps));
}

extern "C" __global__ void bn_affine_f32(const float* x, float* y, const float* gamma, const float* beta, const float* mean,
                                         const float* invStd, int channels, i64 cells, i64 n)
{
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
    {
        int c = (int)((i / cells) % channels);
        y[i] = gamma[c] * ((x[i] - mean[c]) * invStd[c]) + beta[c];
    }
}

// Block c: dβ = Σ dy and dγ = Σ dy·(x − μ)·inv over the channel's M values.
extern "C" __global__ void bn_backward_sums_f32(const float* dy, const float* x, const float* mean, const float* invStd,
                                                float* dgamma, float* dbeta, int images, int channels, i64 cells)
{
    __shared__ double scratch[PC_REDUCE_THREADS];
    i64 m = (i64)images * cells;
    for (int c = blockIdx.x; c < channels; c += gridDim.x)
    {
        double mu = mean[c], inv = invStd[c], sd = 0.0, sdx = 0.0;
        for (i64 i = threadIdx.x; i < m; i += blockDim.x)
        {
            i64 k = ((i / cells) * channels + c) * cells + i % cells;
            double g = dy[k];
            sd += g;
            sdx += g * ((double)x[k] - mu) * inv;
        }
        sd = pc_block_sum(sd, scratch);
        sdx = pc_block_sum(sdx, scratch);
        if (threadIdx.x == 0)
        {
            dbeta[c] = (float)sd;
            dgamma[c] = (float)sdx;
        }
    }
}

extern "C" __global__ void bn_train_dx_f32(const float* dy, const float* x, const float* gamma, const float* mean, const float* invStd,
                                           const float* dgamma, const float* dbeta, float* dx, int channels, i64 cells, i64 m, i64 n)
{
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
    {
        int c = (int)((i / cells) % channels);
        float inv = invStd[c];
        float xhat = (x[i] - mean[c]) * inv;
        float scale = gamma[c] * inv / (float)m;
        dx[i] = scale * ((float)m * dy[i] - dbeta[c] - xhat * dgamma[c]);
    }
}

extern "C" __global__ void bn_frozen_dx_f32(const float* dy, const float* gamma, const float* invStd, float* dx, int channels, i64 cells, i64 n)
{
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
    {
        int c = (int)((i / cells) % channels);
        dx[i] = dy[i] * (gamma[c] * invStd[c]);
    }
}
