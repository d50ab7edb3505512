namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>
    /// Brute-force k-NN as faiss IndexFlatL2 computes it, |q|² + |x|² − 2 q·x clamped at 0, but on rows centred on
    /// the bank's (rounded) mean row: same distances, far less cancellation. The cross term is PackedGemm: the
    /// bank packed once per call, tiles of 128 queries. Each tile keeps its own running top-k (insertion, k small),
    /// so memory is O(tile · k) plus the packed bank. Database rows arrive in ascending index order for every
    /// query and a candidate enters only when strictly below the current k-th distance, so ties keep the lower
    /// index.
    /// </summary>
    public unsafe void NearestNeighbours(DeviceTensor queries, DeviceTensor database, int k, Span<float> distances, Span<int> indices)
    {
        var (m, kk, d) = OpContracts.NearestNeighbours(queries, database, k, distances.Length, indices.Length);
        if (m == 0) return;
        var q = HostMemory.AsHost(queries).Data;
        var x = HostMemory.AsHost(database).Data;
        var mean = PackedGemm.RoundedMeanRow(x, kk, d);
        var (packed, xn) = PackDatabase(x, kk, d, mean);
        // Results go to arrays first: a Span cannot be captured by the parallel lambda.
        var outD = new float[(long)m * k];
        var outI = new int[(long)m * k];
        int tileRows = TileRows(m);
        System.Threading.Tasks.Parallel.For(0, (m + tileRows - 1) / tileRows, Parallel,
            () => (new float[tileRows * k], new int[tileRows * k], new float[tileRows], new float[(long)tileRows * d], new float[tileRows * PackedGemm.NR]),
            (tile, _, scratch) =>
            {
                var (topD, topI, qn, qPack, dots) = scratch;
                int i0 = tile * tileRows, rows = Math.Min(tileRows, m - i0);
                topD.AsSpan().Fill(float.PositiveInfinity);
                topI.AsSpan().Fill(-1);
                PackedGemm.PackTile(q, d, mean, i0, rows, qPack, qn);
                fixed (float* pc = dots, pTop = topD, pqn = qn, pxn = xn)
                fixed (int* pIdx = topI)
                {
                    var sink = new TopKSink { TopD = pTop, TopI = pIdx, QueryNorms = pqn, DatabaseNorms = pxn, K = k };
                    PackedGemm.Multiply(qPack, rows, d, packed, kk, pc, ref sink);
                }
                Array.Copy(topD, 0, outD, (long)i0 * k, (long)rows * k);
                Array.Copy(topI, 0, outI, (long)i0 * k, (long)rows * k);
                return scratch;
            },
            _ => { });
        outD.AsSpan().CopyTo(distances);
        outI.AsSpan().CopyTo(indices);
    }

    /// <summary>Rows of A per work item: PackedGemm's tile, smaller when that would leave a thread idle.</summary>
    int TileRows(int m) =>
        Math.Max(PackedGemm.MR, Math.Min(PackedGemm.RowTile, ((m + Threads - 1) / Threads + PackedGemm.MR - 1) / PackedGemm.MR * PackedGemm.MR));

    /// <summary>Database rows minus the mean, packed as PackedGemm's B, with their squared norms.</summary>
    (float[] Packed, float[] Norms) PackDatabase(float[] x, int rows, int d, float[] mean)
    {
        int panels = PackedGemm.Panels(rows);
        var packed = new float[(long)panels * d * PackedGemm.NR];
        var norms = new float[rows];
        System.Threading.Tasks.Parallel.For(0, panels, Parallel, p =>
            PackedGemm.PackRowsAsColumns(x, d, mean, p, Math.Min(PackedGemm.NR, rows - p * PackedGemm.NR), packed, norms));
        return (packed, norms);
    }

    /// <summary>
    /// Running top-k of each query row of a tile (TopD/TopI hold K slots per row, ascending; QueryNorms is the
    /// tile's own). Database rows arrive in ascending order and only a strictly smaller distance enters, so
    /// ties keep the lower index.
    /// </summary>
    unsafe struct TopKSink : IBlockSink
    {
        public float* TopD, QueryNorms, DatabaseNorms;
        public int* TopI;
        public int K;

        public void Take(int rows, int j0, int nj, float* dots)
        {
            int k = K;
            for (int r = 0; r < rows; r++)
            {
                float* td = TopD + r * k;
                int* ti = TopI + r * k;
                float qnr = QueryNorms[r], worst = td[k - 1];
                float* dr = dots + r * PackedGemm.NR;
                for (int s = 0; s < nj; s++)
                {
                    float v = qnr + DatabaseNorms[j0 + s] - 2 * dr[s];
                    if (v < 0) v = 0;
                    if (!(v < worst)) continue;
                    int pos = k - 1;
                    while (pos > 0 && td[pos - 1] > v) { td[pos] = td[pos - 1]; ti[pos] = ti[pos - 1]; pos--; }
                    td[pos] = v; ti[pos] = j0 + s;
                    worst = td[k - 1];
                }
            }
        }
    }
}
