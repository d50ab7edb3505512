// Row-wise L2 normalisation (F.normalize over the last dimension) and its backward, for the contrastive head.
// Kernels:
//   l2_normalize_rows_f32          — y_r = x_r / max(‖x_r‖, eps), one block per row
//   l2_normalize_rows_backward_f32 — dx_r = (dy_r − y_r·(y_r·dy_r))/‖x_r‖, or dy_r/eps where ‖x_r‖ ≤ eps; one block per row
// CPU twin: src/PatchCore/Backends/Reference/Training/L2NormalizeRows.cs (the reference is the truth until the
//   fast CPU backend's training ops land)
// Host side: src/PatchCore.Cuda/CudaBackend.L2NormalizeRows.cs
// Test: CudaEmulatorTests' training sibling CudaEmulatorTrainingTests (CI, on the CPU emulator) and CudaGpuTrainingTests (a real GPU).
// Benchmark: pcnative bench kernels --backend cuda does not time these yet (no device has run them)
//
// Rows are short (a projection head's 128 features): one block of PC_REDUCE_THREADS threads per row, the norm and
// the dot product as fixed-order block sums in double, so results repeat bit for bit.

extern "C" __global__ void l2_normalize_rows_f32(const float* x, float* y, int rows, int dim, double eps)
{
    __shared__ double scratch[PC_REDUCE_THREADS];
    for (int r = blockIdx.x; r < rows; r += gridDim.x)
    {
        const float* xr = x + (i64)r * dim;
        double sq = 0.0;
        for (int i = threadIdx.x; i < dim; i += blockDim.x) sq += (double)xr[i] * xr[i];
        double norm = sqrt(pc_block_sum(sq, scratch));
        float d = (float)(norm > eps ? norm : eps);
        for (int i = threadIdx.x; i < dim; i += blockDim.x) y[(i64)r * dim + i] = xr[i] / d;
    }
}

extern "C" __global__ void l2_normalize_rows_backward_f32(const float* dy, const float* x, float* dx, int rows, int dim, double eps)
{
    __shared__ double scratch[PC_REDUCE_THREADS];
    for (int r = blockIdx.x; r < rows; r += gridDim.x)
    {
        const float* xr = x + (i64)r * dim;
        const float* gr = dy + (i64)r * dim;
        float* out = dx + (i64)r * dim;
        double sq = 0.0, dot = 0.0;
        for (int i = threadIdx.x; i < dim; i += blockDim.x)
        {
            sq += (double)xr[i] * xr[i];
            dot += (double)xr[i] * gr[i];
        }
        double norm = sqrt(pc_block_sum(sq, scratch));
        dot = pc_block_sum(dot, scratch);
        if (norm <= eps)
        {
            // The clamp makes y = x/eps there: a linear map.
            float e = (float)eps;
            for (int i = threadIdx.x; i < dim; i += blockDim.x) out[i] = gr[i] / e;
            continue;
        }
        float inv = (float)(1.0 / norm), proj = (float)(dot / norm);  // proj = y·dy
        for (int i = threadIdx.x; i < dim; i += blockDim.x) out[i] = (gr[i] - xr[i] * inv * proj) * inv;
    }
}
