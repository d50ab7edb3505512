namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>
    /// |q|² + |x|² − 2 q·x on rows centred on the database's (rounded) mean row, cross term from PackedGemm;
    /// negatives (rounding) clamp to 0.
    /// </summary>
    public unsafe DeviceTensor PairwiseSquaredDistances(DeviceTensor queries, DeviceTensor database)
    {
        var (m, kk, d) = OpContracts.PairwiseSquaredDistances(queries, database);
        var q = HostMemory.AsHost(queries).Data;
        var x = HostMemory.AsHost(database).Data;
        var result = HostMemory.Allocate([m, kk]);
        if (m == 0 || kk == 0) return result;
        var mean = PackedGemm.RoundedMeanRow(x, kk, d);
        var (packed, xn) = PackDatabase(x, kk, d, mean);
        var output = result.Data;
        int tileRows = TileRows(m);
        System.Threading.Tasks.Parallel.For(0, (m + tileRows - 1) / tileRows, Parallel,
            () => (new float[tileRows], new float[(long)tileRows * d], new float[tileRows * PackedGemm.NR]),
            (tile, _, scratch) =>
            {
                var (qn, qPack, dots) = scratch;
                int i0 = tile * tileRows, rows = Math.Min(tileRows, m - i0);
                PackedGemm.PackTile(q, d, mean, i0, rows, qPack, qn);
                fixed (float* pc = output, pd = dots, pqn = qn, pxn = xn)
                {
                    var sink = new DistanceSink { C = pc + (long)i0 * kk, N = kk, QueryNorms = pqn, DatabaseNorms = pxn };
                    PackedGemm.Multiply(qPack, rows, d, packed, kk, pd, ref sink);
                }
                return scratch;
            },
            _ => { });
        return result;
    }

    /// <summary>C[r, j] = max(0, |q_r|² + |x_j|² − 2 q_r·x_j) for the tile's rows (C points at its first row).</summary>
    unsafe struct DistanceSink : IBlockSink
    {
        public float* C, QueryNorms, DatabaseNorms;
        public int N;
        public void Take(int rows, int j0, int nj, float* dots)
        {
            for (int r = 0; r < rows; r++)
                for (int s = 0; s < nj; s++)
                {
                    float v = QueryNorms[r] + DatabaseNorms[j0 + s] - 2 * dots[r * PackedGemm.NR + s];
                    C[(long)r * N + j0 + s] = v < 0 ? 0 : v;
                }
        }
    }
}
