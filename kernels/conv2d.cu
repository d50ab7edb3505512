// Convolution with folded BatchNorm, around the cuBLAS GEMM (CudaBackend.Conv2d runs the GEMM itself).
// Kernels:
//   im2col_f32    — the image patch matrix the GEMM multiplies (skipped for 1x1 stride-1 unpadded convs)
//   conv_epilogue — after the GEMM: + bias, + residual, ReLU, in place
// CPU twin: src/PatchCore/Backends/Cpu/Conv2d.cs (the truth: src/PatchCore/Backends/Reference/Conv2d.cs)
// Host side: src/PatchCore.Cuda/CudaBackend.Conv2d.cs
// Test: CudaEmulatorTests (CI, on the CPU emulator) and CudaGpuTests (a real GPU), both through BackendSelfCheck.
// Benchmark: pcnative bench kernels --backend cuda
//
// Memory-bound; one thread per output element with grid-stride loops.

// y (NCHW, the GEMM result) += bias[c] (+ residual), then ReLU when asked; in place.
extern "C" __global__ void conv_epilogue(float* y, const float* bias, const float* residual, int channels, int hw, i64 n, int relu)
{
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
    {
        int c = (int)((i / hw) % channels);
        float v = y[i] + bias[c];
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
