// Pairwise squared distances |q|² + |x|² - 2 q·x, clamped at 0; the cross term comes from cuBLAS (alpha = -2).
// Kernels:
//   row_sqnorms        — one warp per row: |row|² (nearest_neighbours.cu's host side launches it too)
//   finalize_distances — adds both norms to the GEMM's -2 q·x, clamps at 0
// CPU twin: src/PatchCore/Backends/Cpu/PairwiseDistances.cs (the truth: src/PatchCore/Backends/Reference/PairwiseDistances.cs)
// Host side: src/PatchCore.Cuda/CudaBackend.PairwiseDistances.cs
// Test: CudaEmulatorTests (CI, on the CPU emulator) and CudaGpuTests (a real GPU), both through BackendSelfCheck.
// Benchmark: pcnative bench kernels --backend cuda
//

// One warp per row: out[r] = sum of squares of row r.
extern "C" __global__ void row_sqnorms(const float* x, float* out, int rows, int dim)
{
    int lane = threadIdx.x & 31;
    i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    i64 warps = ((i64)gridDim.x * blockDim.x) >> 5;
    for (i64 r = warp; r < rows; r += warps)
    {
        const float* p = x + r * dim;
        float s = 0.f;
        for (int j = lane; j < dim; j += 32) s += p[j] * p[j];
        s = pc_warp_allsum(s);
        if (lane == 0) out[r] = s;
    }
}

// d[i, j] (holding -2 q_i·x_j) += |q_i|² + |x_j|², clamped at 0 (NaN stays NaN).
extern "C" __global__ void finalize_distances(float* d, const float* qn, const float* xn, int M, int K)
{
    i64 total = (i64)M * K;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x)
    {
        float v = d[i] + qn[i / K] + xn[i % K];
        d[i] = v < 0.f ? 0.f : v;
    }
}
