namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>Query rows per work item: 16 panels of 8; the bank panel (32 rows) is reused by all of them from L1.</summary>
    const int KnnQueryTile = 128;
    /// <summary>Reduction block: a 32-row bank panel block (32 KB) stays in L1 while the tile's 16 query panels pass.</summary>
    const int KnnDepthBlock = 256;

    /// <summary>
    /// Brute-force k-NN as faiss IndexFlatL2 computes it: |q|² + |x|² − 2 q·x, clamped at 0, but on rows centred on
    /// the bank's mean (same distances, far less cancellation). The cross term is the
    /// convolution's 8x32 register-blocked GEMM kernel (GemmKernel) on packed panels: the database is packed once
    /// per call into 32-row panels ([d][32]), each tile of 128 queries into 8-row panels ([d][8]); for every bank
    /// panel the tile's 128 x 32 dot products are accumulated over depth blocks and fed to the top-k sink. That
    /// reads each bank value once per 128 queries and keeps 16 accumulators busy per loaded pair of vectors
    /// (the earlier 4x4 dot-product kernel needed a horizontal sum per pair and re-read the bank per 64 queries).
    /// Each tile keeps its own running top-k (insertion, k small), so memory is O(tile · k) plus the packed
    /// bank. Database rows arrive in ascending index order for every query and a candidate enters only when
    /// strictly below the current k-th distance, so ties keep the lower index.
    /// </summary>
    public unsafe void NearestNeighbours(DeviceTensor queries, DeviceTensor database, int k, Span<float> distances, Span<int> indices)
    {
        var (m, kk, d) = LinearAlgebraChecks.RowsShape(queries, database);
        LinearAlgebraChecks.NearestNeighbours(m, kk, k, distances.Length, indices.Length);
        if (m == 0) return;
        var q = HostMemory.AsHost(queries).Data;
        var x = HostMemory.AsHost(database).Data;
        const int nr = GemmKernel.NR, mr = GemmKernel.MR;
        int panels = (kk + nr - 1) / nr;
        // Rows are centred on the bank's mean row first: distances do not change, but the norms do. CNN features
        // share a large positive mean, and |q|² + |x|² − 2 q·x loses to cancellation what the norms exceed the
        // distance by; centred, the expansion is about as accurate as the direct difference.
        var mean = new float[d];
        {
            var sum = new double[d];
            for (long r = 0; r < kk; r++)
                for (int t = 0; t < d; t++) sum[t] += x[r * d + t];
            // Rounded to 4 significant bits: within 1/16 of the mean, which still removes most of the
            // offset, and on data with few significant bits (small integers, exact ties in tests) x − mean, its
            // products and their sums stay exact in float, so those distances stay exact too.
            for (int t = 0; t < d; t++)
                mean[t] = BitConverter.Int32BitsToSingle((BitConverter.SingleToInt32Bits((float)(sum[t] / kk)) + (1 << 19)) & ~((1 << 20) - 1));
        }
        // Bank panels [panel][t][32]; the last panel's missing rows are zeros (their columns are never read).
        var packed = new float[(long)panels * d * nr];
        var xn = new float[kk];
        System.Threading.Tasks.Parallel.For(0, panels, Parallel, p =>
        {
            long o = (long)p * d * nr;
            int rows = Math.Min(nr, kk - p * nr);
            for (int r = 0; r < rows; r++)
            {
                long src = (long)(p * nr + r) * d;
                double norm = 0;
                for (int t = 0; t < d; t++)
                {
                    float v = x[src + t] - mean[t];
                    packed[o + (long)t * nr + r] = v;
                    norm += (double)v * v;
                }
                xn[p * nr + r] = (float)norm;
            }
        });
        // Results go to arrays first: a Span cannot be captured by the parallel lambda.
        var outD = new float[(long)m * k];
        var outI = new int[(long)m * k];
        int tileRows = Math.Max(mr, Math.Min(KnnQueryTile, ((m + Threads - 1) / Threads + mr - 1) / mr * mr));
        System.Threading.Tasks.Parallel.For(0, (m + tileRows - 1) / tileRows, Parallel,
            () => (new float[tileRows * k], new int[tileRows * k], new float[tileRows], new float[(long)tileRows * d], new float[tileRows * nr]),
            (tile, _, scratch) =>
            {
                var (topD, topI, qn, qPack, dots) = scratch;
                int i0 = tile * tileRows, i1 = Math.Min(m, i0 + tileRows), rows = i1 - i0;
                int qPanels = (rows + mr - 1) / mr;
                topD.AsSpan().Fill(float.PositiveInfinity);
                topI.AsSpan().Fill(-1);
                // Query panels [panel][t][8]; rows past the end are zeros (never read back).
                Array.Clear(qPack);
                for (int r = 0; r < rows; r++)
                {
                    long src = (long)(i0 + r) * d, o = (long)(r / mr) * d * mr + r % mr;
                    double norm = 0;
                    for (int t = 0; t < d; t++)
                    {
                        float v = q[src + t] - mean[t];
                        qPack[o + (long)t * mr] = v;
                        norm += (double)v * v;
                    }
                    qn[r] = (float)norm;
                }
                float* zero = stackalloc float[mr];
                for (int r = 0; r < mr; r++) zero[r] = 0;
                fixed (float* pq = qPack, pb = packed, pc = dots, pTop = topD, pqn = qn, pxn = xn)
                fixed (int* pIdx = topI)
                {
                    var sink = new TopKSink { TopD = pTop, TopI = pIdx, QueryNorms = pqn, DatabaseNorms = pxn, K = k };
                    for (int p = 0; p < panels; p++)
                    {
                        float* bp = pb + (long)p * d * nr;
                        for (int t0 = 0; t0 < d; t0 += KnnDepthBlock)
                        {
                            int kc = Math.Min(KnnDepthBlock, d - t0);
                            for (int qp = 0; qp < qPanels; qp++)
                                GemmKernel.Tile(kc, pq + (long)qp * d * mr + (long)t0 * mr, bp + (long)t0 * nr,
                                    pc + qp * mr * nr, nr, zero, t0 == 0, null, 0, false, false);
                        }
                        sink.Take(rows, p * nr, Math.Min(nr, kk - p * nr), pc, nr);
                    }
                }
                Array.Copy(topD, 0, outD, (long)i0 * k, (long)rows * k);
                Array.Copy(topI, 0, outI, (long)i0 * k, (long)rows * k);
                return scratch;
            },
            _ => { });
        outD.AsSpan().CopyTo(distances);
        outI.AsSpan().CopyTo(indices);
    }

    /// <summary>
    /// Running top-k of each query row of a tile (TopD/TopI hold K slots per row, ascending; QueryNorms is the
    /// tile's own). Database rows arrive in ascending order and only a strictly smaller distance enters, so
    /// ties keep the lower index.
    /// </summary>
    unsafe struct TopKSink
    {
        public float* TopD, QueryNorms, DatabaseNorms;
        public int* TopI;
        public int K;

        /// <summary>dots[r·ld + s] = q_r · x_{j+s} for the tile's rows r &lt; ni and bank rows s &lt; nj.</summary>
        public void Take(int ni, int j, int nj, float* dots, int ld)
        {
            int k = K;
            for (int r = 0; r < ni; r++)
            {
                float* td = TopD + r * k;
                int* ti = TopI + r * k;
                float qnr = QueryNorms[r], worst = td[k - 1];
                float* dr = dots + r * ld;
                for (int s = 0; s < nj; s++)
                {
                    float v = qnr + DatabaseNorms[j + s] - 2 * dr[s];
                    if (v < 0) v = 0;
                    if (!(v < worst)) continue;
                    int pos = k - 1;
                    while (pos > 0 && td[pos - 1] > v) { td[pos] = td[pos - 1]; ti[pos] = ti[pos - 1]; pos--; }
                    td[pos] = v; ti[pos] = j + s;
                    worst = td[k - 1];
                }
            }
        }
    }
}
