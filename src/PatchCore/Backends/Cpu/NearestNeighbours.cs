namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>
    /// Brute-force k-NN as faiss IndexFlatL2 computes it: |q|² + |x|² − 2 q·x, cross term from the 4x4 GEMM kernel,
    /// clamped at 0. Work items are tiles of 64 queries; each keeps its own running top-k (insertion, k small), so
    /// memory is O(tile · k) whatever M and K are. Database rows arrive in ascending index order for every
    /// query and a candidate enters only when strictly below the current k-th distance, so ties keep the lower
    /// index.
    /// </summary>
    public unsafe void NearestNeighbours(DeviceTensor queries, DeviceTensor database, int k, Span<float> distances, Span<int> indices)
    {
        var (m, kk, d) = LinearAlgebraChecks.RowsShape(queries, database);
        LinearAlgebraChecks.NearestNeighbours(m, kk, k, distances.Length, indices.Length);
        if (m == 0) return;
        var q = HostMemory.AsHost(queries).Data;
        var x = HostMemory.AsHost(database).Data;
        float[] xn = RowNorms(x, kk, d);
        // Results go to arrays first: a Span cannot be captured by the parallel lambda.
        var outD = new float[(long)m * k];
        var outI = new int[(long)m * k];
        int tileRows = Math.Max(4, Math.Min(RowTile, ((m + Threads - 1) / Threads + 3) & ~3));
        System.Threading.Tasks.Parallel.For(0, (m + tileRows - 1) / tileRows, Parallel,
            () => (new float[tileRows * k], new int[tileRows * k], new float[tileRows]),
            (tile, _, scratch) =>
            {
                var (topD, topI, qn) = scratch;
                int i0 = tile * tileRows, i1 = Math.Min(m, i0 + tileRows);
                topD.AsSpan().Fill(float.PositiveInfinity);
                topI.AsSpan().Fill(-1);
                for (int i = i0; i < i1; i++)
                {
                    var row = q.AsSpan((int)((long)i * d), d);
                    qn[i - i0] = System.Numerics.Tensors.TensorPrimitives.Dot(row, row);
                }
                fixed (float* pa = q, pb = x, pTop = topD, pqn = qn, pxn = xn)
                fixed (int* pIdx = topI)
                {
                    var sink = new TopKSink { TopD = pTop, TopI = pIdx, QueryNorms = pqn, DatabaseNorms = pxn, FirstRow = i0, K = k };
                    DotKernel.Tiles(pa, i0, i1, pb, kk, d, ref sink);
                }
                Array.Copy(topD, 0, outD, (long)i0 * k, (long)(i1 - i0) * k);
                Array.Copy(topI, 0, outI, (long)i0 * k, (long)(i1 - i0) * k);
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
    unsafe struct TopKSink : IDotTileSink
    {
        public float* TopD, QueryNorms, DatabaseNorms;
        public int* TopI;
        public int FirstRow, K;
        public void Take(int i, int j, int ni, int nj, float* dots)
        {
            int k = K;
            for (int r = 0; r < ni; r++)
            {
                int local = i - FirstRow + r;
                float* td = TopD + local * k;
                int* ti = TopI + local * k;
                float qnr = QueryNorms[local];
                for (int s = 0; s < nj; s++)
                {
                    float v = qnr + DatabaseNorms[j + s] - 2 * dots[r * 4 + s];
                    if (v < 0) v = 0;
                    if (!(v < td[k - 1])) continue;
                    int pos = k - 1;
                    while (pos > 0 && td[pos - 1] > v) { td[pos] = td[pos - 1]; ti[pos] = ti[pos - 1]; pos--; }
                    td[pos] = v; ti[pos] = j + s;
                }
            }
        }
    }
}
