using PatchCore.Backends;

namespace PatchCore.Cuda;

/// <summary>NearestNeighbours (kernels/nearest_neighbours.cu; the norms and the -2 q·x GEMM are shared with
/// CudaBackend.PairwiseDistances.cs). CPU twin: Backends/Cpu/NearestNeighbours.cs.</summary>
public sealed partial class CudaBackend
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
}
