// Patch-feature aggregation (ALGORITHM.md "Patch features"), the two modes of AggregationSpec.
// Kernels:
//   aggregate_official — one block per layer2 grid cell: unfold, upsample layer3, adaptive pools (dynamic shared 2*P floats)
//   aggregate_anomalib — one thread per output value: 3x3 average pool, nearest-upsampled layer3, concatenated
// CPU twin: src/PatchCore/Backends/Cpu/AggregatePatchFeatures.cs (the truth: src/PatchCore/Backends/Reference/AggregatePatchFeatures.cs)
// Host side: src/PatchCore.Cuda/CudaBackend.AggregatePatchFeatures.cs
// Test: CudaEmulatorTests (CI, on the CPU emulator) and CudaGpuTests (a real GPU), both through BackendSelfCheck.
// Benchmark: pcnative bench kernels --backend cuda
//
// Patch-feature aggregation (ALGORITHM.md "Patch features"). One block per output row (one layer2 grid cell).

// Official: u2 = 3x3 unfold of layer2 at (y, x) (zero pad, channel-major c*p*p + ky*p + kx), u3 = the same
// unfold of layer3 bilinearly upsampled (align_corners=false) to layer2's grid; each adaptively average-pooled
// to P values (bins [floor(i*L/P), ceil((i+1)*L/P))), stacked [2, P] and pooled again to T.
// Dynamic shared memory: 2*P floats.
extern "C" __global__ void aggregate_official(const float* l2, const float* l3, float* out, int N, int C2, int H, int W,
                                              int C3, int h, int w, int p, int P, int T)
{
    extern __shared__ float stacked[];
    i64 row = blockIdx.x;
    int n = (int)(row / ((i64)H * W));
    int cell = (int)(row % ((i64)H * W));
    int y = cell / W, x = cell % W;
    int pad = (p - 1) / 2;
    int pp = p * p;

    int ya, yb, xa, xb;
    float ly, lx;
    pc_bilinear_src(y, h, H, &ya, &yb, &ly);
    pc_bilinear_src(x, w, W, &xa, &xb, &lx);

    i64 L2 = (i64)C2 * pp, L3 = (i64)C3 * pp;
    const float* b2 = l2 + (i64)n * C2 * H * W;
    const float* b3 = l3 + (i64)n * C3 * h * w;
    for (int i = threadIdx.x; i < P; i += blockDim.x)
    {
        // layer2 bin
        i64 s = ((i64)i * L2) / P, e = (((i64)i + 1) * L2 + P - 1) / P;
        float acc = 0.f;
        for (i64 j = s; j < e; j++)
        {
            int c = (int)(j / pp), r = (int)(j % pp);
            int yy = y + r / p - pad, xx = x + r % p - pad;
            if (yy >= 0 && yy < H && xx >= 0 && xx < W) acc += b2[((i64)c * H + yy) * W + xx];
        }
        stacked[i] = acc / (float)(e - s);

        // layer3 bin, each unfolded plane sampled bilinearly at layer2's cell
        s = ((i64)i * L3) / P;
        e = (((i64)i + 1) * L3 + P - 1) / P;
        acc = 0.f;
        for (i64 j = s; j < e; j++)
        {
            int c = (int)(j / pp), r = (int)(j % pp);
            int dy = r / p - pad, dx = r % p - pad;
            const float* pl = b3 + (i64)c * h * w;
            int y0 = ya + dy, y1 = yb + dy, x0 = xa + dx, x1 = xb + dx;
            float v00 = (y0 >= 0 && y0 < h && x0 >= 0 && x0 < w) ? pl[y0 * w + x0] : 0.f;
            float v01 = (y0 >= 0 && y0 < h && x1 >= 0 && x1 < w) ? pl[y0 * w + x1] : 0.f;
            float v10 = (y1 >= 0 && y1 < h && x0 >= 0 && x0 < w) ? pl[y1 * w + x0] : 0.f;
            float v11 = (y1 >= 0 && y1 < h && x1 >= 0 && x1 < w) ? pl[y1 * w + x1] : 0.f;
            acc += (1.f - ly) * ((1.f - lx) * v00 + lx * v01) + ly * ((1.f - lx) * v10 + lx * v11);
        }
        stacked[P + i] = acc / (float)(e - s);
    }
    __syncthreads();
    i64 L = 2 * (i64)P;
    for (int t = threadIdx.x; t < T; t += blockDim.x)
    {
        i64 s = ((i64)t * L) / T, e = (((i64)t + 1) * L + T - 1) / T;
        float acc = 0.f;
        for (i64 j = s; j < e; j++) acc += stacked[j];
        out[row * T + t] = acc / (float)(e - s);
    }
}

// anomalib: p x p average pool (stride 1, pad (p-1)/2, padded cells as zeros) of each layer, layer3 nearest-
// upsampled (src = floor(dst * in/out)), channels concatenated: D = C2 + C3. One thread per output value.
extern "C" __global__ void aggregate_anomalib(const float* l2, const float* l3, float* out, int N, int C2, int H, int W,
                                              int C3, int h, int w, int p)
{
    int D = C2 + C3;
    i64 total = (i64)N * H * W * D;
    int pad = (p - 1) / 2;
    float inv = 1.f / (float)(p * p);
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x)
    {
        int d = (int)(i % D);
        i64 row = i / D;
        int n = (int)(row / ((i64)H * W));
        int cell = (int)(row % ((i64)H * W));
        int y = cell / W, x = cell % W;
        const float* pl;
        int ph, pw, cy, cx;
        if (d < C2) { pl = l2 + ((i64)n * C2 + d) * H * W; ph = H; pw = W; cy = y; cx = x; }
        else
        {
            pl = l3 + ((i64)n * C3 + (d - C2)) * h * w; ph = h; pw = w;
            cy = (int)floorf((float)y * ((float)h / (float)H)); if (cy > h - 1) cy = h - 1;
            cx = (int)floorf((float)x * ((float)w / (float)W)); if (cx > w - 1) cx = w - 1;
        }
        float s = 0.f;
        for (int ky = 0; ky < p; ky++)
        {
            int yy = cy + ky - pad;
            if (yy < 0 || yy >= ph) continue;
            for (int kx = 0; kx < p; kx++)
            {
                int xx = cx + kx - pad;
                if (xx >= 0 && xx < pw) s += pl[yy * pw + xx];
            }
        }
        out[i] = s * inv;
    }
}
