// Anomaly maps: bilinear upsampling, then a separable Gaussian blur (weights from Backends/Resampling.cs).
// Kernels:
//   upsample_bilinear — one thread per output pixel, align_corners=false as PyTorch
//   blur_1d           — one 1-D pass (vertical or horizontal), reflect borders; launched twice
// CPU twin: src/PatchCore/Backends/Cpu/AnomalyMaps.cs (the truth: src/PatchCore/Backends/Reference/AnomalyMaps.cs)
// Host side: src/PatchCore.Cuda/CudaBackend.AnomalyMaps.cs
// Test: CudaEmulatorTests (CI, on the CPU emulator) and CudaGpuTests (a real GPU), both through BackendSelfCheck.
// Benchmark: pcnative bench kernels --backend cuda
//
// Anomaly maps: bilinear upsampling of the patch-score grids (align_corners=false), then a separable Gaussian
// blur with scipy.ndimage's 'reflect' border (d c b a | a b c d); vertical pass first, as gaussian_filter
// walks axis 0 before axis 1.

extern "C" __global__ void upsample_bilinear(const float* in, float* out, int planes, int ih, int iw, int oh, int ow)
{
    i64 total = (i64)planes * oh * ow;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x)
    {
        int x = (int)(i % ow);
        int y = (int)((i / ow) % oh);
        i64 pl = i / ((i64)oh * ow);
        int y0, y1, x0, x1;
        float ly, lx;
        pc_bilinear_src(y, ih, oh, &y0, &y1, &ly);
        pc_bilinear_src(x, iw, ow, &x0, &x1, &lx);
        const float* p = in + pl * ih * iw;
        out[i] = (1.f - ly) * ((1.f - lx) * p[y0 * iw + x0] + lx * p[y0 * iw + x1])
               + ly * ((1.f - lx) * p[y1 * iw + x0] + lx * p[y1 * iw + x1]);
    }
}

__device__ __forceinline__ int pc_reflect(int i, int n)
{
    if (n == 1) return 0;
    int period = 2 * n;
    int m = i % period;
    if (m < 0) m += period;
    return m < n ? m : period - 1 - m;
}

// vertical = 1: along H (axis 0 of each map); 0: along W. weights has 2*radius+1 taps.
extern "C" __global__ void blur_1d(const float* in, float* out, int planes, int H, int W, const float* weights, int radius, int vertical)
{
    i64 total = (i64)planes * H * W;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x)
    {
        int x = (int)(i % W);
        int y = (int)((i / W) % H);
        i64 pl = i / ((i64)H * W);
        const float* p = in + pl * H * W;
        float acc = 0.f;
        if (vertical)
            for (int t = -radius; t <= radius; t++) acc += weights[t + radius] * p[pc_reflect(y + t, H) * W + x];
        else
            for (int t = -radius; t <= radius; t++) acc += weights[t + radius] * p[y * W + pc_reflect(x + t, W)];
        out[i] = acc;
    }
}
