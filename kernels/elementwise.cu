// Backbone ops around the cuBLAS GEMMs: im2col, the conv epilogue (folded-BN bias, residual, ReLU), ReLU, add
// and pooling. All memory-bound; one thread per output element with grid-stride loops.

extern "C" __global__ void relu_f32(const float* x, float* y, i64 n)
{
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
    {
        float v = x[i];
        y[i] = v > 0.f ? v : (v == v ? 0.f : v);
    }
}

extern "C" __global__ void add_f32(const float* a, const float* b, float* y, i64 n)
{
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
        y[i] = a[i] + b[i];
}

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
