// Convolution with folded BatchNorm, around the cuBLAS GEMM (CudaBackend.Conv2d runs the GEMM itself), and the
// training conv's forward and backward (CudaBackend.Conv2dTraining: the same im2col, GEMMs for dW and dcol).
// Kernels:
//   im2col_f32      — the image patch matrix the GEMM multiplies (skipped for 1x1 stride-1 unpadded convs)
//   conv_epilogue   — after the GEMM: + bias (none when null), + residual, ReLU, in place; also the linear layer's bias
//   col2im_f32      — training: dx from the patch-matrix gradient, a gather per input cell (no atomics)
//   channel_sum_f32 — training: Σ over images and cells per channel (conv and linear bias gradients), one block per channel
// CPU twin: src/PatchCore/Backends/Cpu/Conv2d.cs (the truth: src/PatchCore/Backends/Reference/Conv2d.cs; training:
//   src/PatchCore/Backends/Reference/Training/Conv2d.cs and Linear.cs)
// Host side: src/PatchCore.Cuda/CudaBackend.Conv2d.cs, CudaBackend.Conv2dTraining.cs, CudaBackend.Linear.cs
// Test: CudaEmulatorTests (CI, on the CPU emulator) and CudaGpuTests (a real GPU), both through BackendSelfCheck;
//   the training kernels: CudaEmulatorTrainingTests and CudaGpuTrainingTests.
// Benchmark: pcnative bench kernels --backend cuda (the training kernels are not in it yet)
//
// Memory-bound; one thread per output element with grid-stride loops (channel_sum_f32: a fixed-order block sum).

// y (NCHW, the GEMM result) += bias[c] (+ residual), then ReLU when asked; in place.
extern "C" __global__ void conv_epilogue(float* y, const float* bias, const float* residual, int channels, int hw, i64 n, int relu)
{
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
    {
        int c = (int)((i / hw) % channels);
        float v = bias ? y[i] + bias[c] : y[i];
        if (residual) v += residual[i];
        if (relu) v = v > 0.f ? v : (v == v ? 0.f : v);
        y[i] = v;
    }
}

// col[n][k][p] for k = (c*KH + ky)*KW + kx and p = oy*OW + ox: the image patch matrix of `images` images,
// zero where the window hangs over the (possibly asymmetric) padding.
extern "C" __global__ void im2col_f32(const float* x, float* col, int C, int H, int W, int KH, int KW, int stride,
                                      int padT, int padL, int OH, int OW, int images)
{
    i64 ohw = (i64)OH * OW;
    i64 K = (i64)C * KH * KW;
    i64 total = (i64)images * K * ohw;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x)
    {
        i64 p = i % ohw;
        i64 t = i / ohw;
        int k = (int)(t % K);
        i64 n = t / K;
        int c = k / (KH * KW);
        int r = k % (KH * KW);
        int ky = r / KW, kx = r % KW;
        int oy = (int)(p / OW), ox = (int)(p % OW);
        int iy = oy * stride - padT + ky, ix = ox * stride - padL + kx;
        float v = 0.f;
        if (iy >= 0 && iy < H && ix >= 0 && ix < W) v = x[((n * C + c) * H + iy) * W + ix];
        col[i] = v;
    }
}

// dx[n][c][iy][ix] = Σ over the taps (ky, kx) whose window put this cell under them of dcol[n][k][oy*OW + ox],
// k = (c*KH + ky)*KW + kx: the transpose of im2col written as a gather, one sum per input cell in a fixed tap
// order, so no two threads write one cell and the result repeats bit for bit. Cells no window covers get 0.
extern "C" __global__ void col2im_f32(const float* dcol, float* dx, int C, int H, int W, int KH, int KW, int stride,
                                      int padT, int padL, int OH, int OW, int images)
{
    i64 ohw = (i64)OH * OW;
    i64 K = (i64)C * KH * KW;
    i64 total = (i64)images * C * H * W;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x)
    {
        int ix = (int)(i % W);
        int iy = (int)((i / W) % H);
        i64 t = i / ((i64)H * W);
        int c = (int)(t % C);
        i64 n = t / C;
        const float* src = dcol + n * K * ohw;
        float acc = 0.f;
        for (int ky = 0; ky < KH; ky++)
        {
            int ty = iy + padT - ky;
            if (ty < 0 || ty % stride != 0 || ty / stride >= OH) continue;
            int oy = ty / stride;
            for (int kx = 0; kx < KW; kx++)
            {
                int tx = ix + padL - kx;
                if (tx < 0 || tx % stride != 0 || tx / stride >= OW) continue;
                int ox = tx / stride;
                acc += src[((i64)(c * KH + ky) * KW + kx) * ohw + (i64)oy * OW + ox];
            }
        }
        dx[i] = acc;
    }
}

// out[c] = Σ_{b, j} v[(b*channels + c)*cells + j]: block c sums its channel (PC_REDUCE_THREADS threads, double
// partials, fixed order). The bias gradient of a conv (cells = OH*OW) and of a linear layer (cells = 1).
extern "C" __global__ void channel_sum_f32(const float* v, float* out, int images, int channels, i64 cells)
{
    __shared__ double scratch[PC_REDUCE_THREADS];
    for (int c = blockIdx.x; c < channels; c += gridDim.x)
    {
        i64 m = (i64)images * cells;
        double s = 0.0;
        for (i64 i = threadIdx.x; i < m; i += blockDim.x)
        {
            i64 b = i / cells, j = i % cells;
            s += v[(b * channels + c) * cells + j];
        }
        s = pc_block_sum(s, scratch);
        if (threadIdx.x == 0) out[c] = (float)s;
    }
}
