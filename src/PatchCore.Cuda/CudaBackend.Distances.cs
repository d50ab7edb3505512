using PatchCore.Backends;
using PatchCore.Cuda.Native;

namespace PatchCore.Cuda;

public sealed unsafe partial class CudaBackend
{
    /// <summary>Largest k of <see cref="NearestNeighbours"/> (the per-thread candidate list of topk_tile; KMAX in
    /// kernels/nearest_neighbours.cu must match). The contract holds every backend to it.</summary>
    public const int MaxK = OpContracts.MaxNeighbours;
    /// <summary>Upper bound of the distance tile of NearestNeighbours (also limited to a quarter of free memory).</summary>
    public long DistanceTileBudgetBytes { get; set; } = 2L << 30;
    /// <summary>Database rows per tile (tests lower it to exercise the merge across tiles).</summary>
    public int DatabaseTileRows { get; set; } = 65536;
    /// <summary>Query rows per tile at most (tests lower it).</summary>
    public int QueryTileRows { get; set; } = int.MaxValue;

    void RowNorms(ulong x, ulong norms, int rows, int dim) =>
        Launch("row_sqnorms", Grid((long)rows * 32), 256, 0, [x, norms, I(rows), I(dim)]);

    /// <summary>
    /// g [M, K] (row stride ldg) = -2 q·xᵀ for q [M, D], x [K, D] row-major. Column-major cuBLAS sees gᵀ [K x M] =
    /// x (as Xᵀ [D x K] with ld D, op T) · qᵀ [D x M] (ld D, op N): Sgemm(T, N, m = K, n = M, k = D, A = x, lda = D,
    /// B = q, ldb = D, C = g, ldc = ldg). Full fp32: TF32 would ruin small distances next to large norms.
    /// </summary>
    void CrossTerm(ulong q, int m, ulong x, int k, int d, ulong g, int ldg)
    {
        _blas.Check(_blas.cublasSetMathMode(_blasHandle, Cublas.CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
        float alpha = -2f, beta = 0f;
        _blas.Check(_blas.cublasSgemm_v2(_blasHandle, Cublas.CUBLAS_OP_T, Cublas.CUBLAS_OP_N, k, m, d,
            &alpha, x, d, q, d, &beta, g, ldg), "cublasSgemm_v2(distances)");
    }

    public DeviceTensor PairwiseSquaredDistances(DeviceTensor queries, DeviceTensor database)
    {
        var (m, k, d) = OpContracts.PairwiseSquaredDistances(queries, database);
        var y = (CudaTensor)Allocate(m, k);
        if (m == 0 || k == 0) return y;
        using var qn = AllocBuffer(m * 4L);
        using var xn = AllocBuffer(k * 4L);
        RowNorms(T(queries).Ptr, qn.Ptr, m, d);
        RowNorms(T(database).Ptr, xn.Ptr, k, d);
        if (d == 0) Fill(y, 0f);
        else CrossTerm(T(queries).Ptr, m, T(database).Ptr, k, d, y.Ptr, k);
        Launch("finalize_distances", Grid(y.Length), 256, 0, [y.Ptr, qn.Ptr, xn.Ptr, I(m), I(k)]);
        Synchronize(); // qn/xn are freed on return
        return y;
    }

    /// <summary>
    /// Tiled over queries x database (faiss GPU brute-force style): per tile one SGEMM for -2 q·x into scratch
    /// and one topk_tile launch that adds the norms and merges the tile's candidates into each query's running
    /// top k (ascending, ties to the lower index, clamped at 0). Memory: one tile, sized from free memory.
    /// </summary>
    public void NearestNeighbours(DeviceTensor queries, DeviceTensor database, int k, Span<float> distances, Span<int> indices)
    {
        var (m, kdb, d) = OpContracts.NearestNeighbours(queries, database, k, distances.Length, indices.Length);
        if (m == 0) return;
        Enter();
        using var qn = AllocBuffer(m * 4L);
        using var xn = AllocBuffer(kdb * 4L);
        using var bestD = AllocBuffer((long)m * k * 4);
        using var bestI = AllocBuffer((long)m * k * 4);
        ulong q = T(queries).Ptr, x = T(database).Ptr;
        RowNorms(q, qn.Ptr, m, d);
        RowNorms(x, xn.Ptr, kdb, d);
        long budget = Math.Max(16L << 20, Math.Min(DistanceTileBudgetBytes, FreeMemory() / 4)) / 4; // floats
        int kt = Math.Max(1, Math.Min(kdb, DatabaseTileRows));
        int mt = (int)Math.Clamp(budget / kt, 1, Math.Min(m, Math.Max(1, QueryTileRows)));
        ulong g = Workspace((long)mt * kt * 4);
        for (int q0 = 0; q0 < m; q0 += mt)
        {
            int mc = Math.Min(mt, m - q0);
            for (int j0 = 0; j0 < kdb; j0 += kt)
            {
                int kc = Math.Min(kt, kdb - j0);
                if (d == 0) Check(_cuMemsetZero(g, (long)mc * kc), "cuMemsetD32_v2");
                else CrossTerm(q + (ulong)q0 * (ulong)d * 4, mc, x + (ulong)j0 * (ulong)d * 4, kc, d, g, kc);
                Launch("topk_tile", (uint)mc, 256, 0,
                    [g, qn.Ptr + (ulong)q0 * 4, xn.Ptr + (ulong)j0 * 4, I(kc), I(j0), I(k),
                     bestD.Ptr + (ulong)q0 * (ulong)k * 4, bestI.Ptr + (ulong)q0 * (ulong)k * 4, I(j0 == 0 ? 1 : 0)]);
            }
        }
        DownloadRaw(bestD.Ptr, distances[..(m * k)]);
        DownloadRaw(bestI.Ptr, indices[..(m * k)]);
    }

    int _cuMemsetZero(ulong p, long count) => _cu.cuMemsetD32_v2(p, 0, (nuint)count);
}
