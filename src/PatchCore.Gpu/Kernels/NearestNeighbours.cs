using ILGPU;
using ILGPU.Runtime;
using PatchCore.Backends;

namespace PatchCore.Gpu;

// k-nearest neighbours, tiled over queries x database so memory stays bounded for any bank size:
//  1. a distance GEMM fills a [dbChunk, queryChunk] tile (transposed on purpose: in step 2 thread i walks
//     column i, and neighbouring threads then read neighbouring addresses — coalesced);
//  2. one thread per query folds the tile into that query's running top-k (kept in device memory between
//     database chunks, so nothing returns to the host until the end).
// Database chunks are visited in increasing index order and a candidate enters only when strictly smaller
// than the entry it displaces, so equal distances keep the lower index first, as the reference does.
public sealed partial class GpuBackend
{
    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, TopKArgs> _topKMerge = null!;

    internal struct TopKArgs
    {
        public int QueryChunk, DbChunk, QueryOffset, DbOffset, K;
    }

    /// <summary>Most floats a distance tile may hold (128 MiB); tests lower it to exercise the chunking.</summary>
    internal int NnTileBudget { get; set; } = 32 << 20;
    /// <summary>Most queries per chunk: enough threads to fill a large GPU during the merge.</summary>
    internal int NnQueryChunkMax { get; set; } = 32768;

    // A tile holds at most NnTileBudget floats, NnQueryChunkMax queries wide: the defaults map back exactly.
    (int QueryRows, int DatabaseRows) ITiledNeighboursBackend.NeighbourTiles
    {
        get => (NnQueryChunkMax, NnTileBudget / NnQueryChunkMax);
        set => (NnQueryChunkMax, NnTileBudget) = (value.QueryRows, checked(value.QueryRows * value.DatabaseRows));
    }

    void LoadNearestNeighbours()
    {
        _topKMerge = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, TopKArgs>(TopKMergeKernel);
    }

    static void TopKMergeKernel(Index1D i, ArrayView<float> tile, ArrayView<float> bestD, ArrayView<int> bestI, TopKArgs a)
    {
        int q = a.QueryOffset + i;
        int b = q * a.K;
        int last = b + a.K - 1;
        float worst = bestD[last];
        for (int j = 0; j < a.DbChunk; j++)
        {
            float d = tile[j * a.QueryChunk + i];
            if (!(d < worst)) continue;
            // Insertion sort step: shift larger entries one place down (k is small: 1 for scoring, ~10 for
            // the eq. 7 reweighting), strictly larger only so ties keep the earlier, lower index.
            int pos = last;
            while (pos > b && bestD[pos - 1] > d)
            {
                bestD[pos] = bestD[pos - 1];
                bestI[pos] = bestI[pos - 1];
                pos--;
            }
            bestD[pos] = d;
            bestI[pos] = a.DbOffset + j;
            worst = bestD[last];
        }
    }

    public void NearestNeighbours(DeviceTensor queries, DeviceTensor database, int k, Span<float> distances, Span<int> indices)
    {
        var (m, n, dim) = OpContracts.NearestNeighbours(queries, database, k, distances.Length, indices.Length);
        if (m == 0) return;

        var q = AsGpu(queries).View; var x = AsGpu(database).View;
        using var bestD = _accelerator.Allocate1D<float>(m * k);
        using var bestI = _accelerator.Allocate1D<int>(m * k);
        using var qn = _accelerator.Allocate1D<float>(m);
        using var xn = _accelerator.Allocate1D<float>(n);
        Fill(bestD.View, float.PositiveInfinity);
        bestI.MemSetToZero();
        RowNorms(q, m, dim, qn.View);
        RowNorms(x, n, dim, xn.View);

        int qChunk = Math.Min(m, Math.Min(NnQueryChunkMax, NnTileBudget));
        int dbChunk = Math.Max(1, Math.Min(n, NnTileBudget / qChunk));
        using var tile = _accelerator.Allocate1D<float>((long)qChunk * dbChunk);
        for (int q0 = 0; q0 < m; q0 += qChunk)
        {
            int qc = Math.Min(qChunk, m - q0);
            var qView = q.SubView((long)q0 * dim, (long)qc * dim);
            var qnView = qn.View.SubView(q0, qc);
            for (int d0 = 0; d0 < n; d0 += dbChunk)
            {
                int dc = Math.Min(dbChunk, n - d0);
                // Tile rows = database points, columns = queries, leading dimension qc.
                DistanceGemm(x.SubView((long)d0 * dim, (long)dc * dim), dc, qView, qc, dim,
                    xn.View.SubView(d0, dc), qnView, tile.View, qc);
                _topKMerge(qc, tile.View, bestD.View, bestI.View,
                    new TopKArgs { QueryChunk = qc, DbChunk = dc, QueryOffset = q0, DbOffset = d0, K = k });
            }
        }
        _accelerator.Synchronize();
        bestD.View.SubView(0, m * k).CopyToCPU(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(distances), m * k);
        bestI.View.SubView(0, m * k).CopyToCPU(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(indices), m * k);
    }
}
