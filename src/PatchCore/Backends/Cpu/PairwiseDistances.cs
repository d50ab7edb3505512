namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>|q|² + |x|² − 2 q·x with the cross term from the 4x4 GEMM kernel; negatives (rounding) clamp to 0.</summary>
    public unsafe DeviceTensor PairwiseSquaredDistances(DeviceTensor queries, DeviceTensor database)
    {
        var (m, kk, d) = LinearAlgebraChecks.RowsShape(queries, database);
        var q = HostMemory.AsHost(queries).Data;
        var x = HostMemory.AsHost(database).Data;
        var result = HostMemory.Allocate([m, kk]);
        if (m == 0 || kk == 0) return result;
        float[] qn = RowNorms(q, m, d), xn = RowNorms(x, kk, d);
        var output = result.Data;
        System.Threading.Tasks.Parallel.For(0, (m + RowTile - 1) / RowTile, Parallel, tile =>
        {
            fixed (float* pa = q, pb = x, pc = output, pqn = qn, pxn = xn)
            {
                int i0 = tile * RowTile, i1 = Math.Min(m, i0 + RowTile);
                var sink = new DistanceSink { C = pc, N = kk, QueryNorms = pqn, DatabaseNorms = pxn };
                DotKernel.Tiles(pa, i0, i1, pb, kk, d, ref sink);
            }
        });
        return result;
    }

    /// <summary>C[i, j] = max(0, |q_i|² + |x_j|² − 2 q_i·x_j).</summary>
    unsafe struct DistanceSink : IDotTileSink
    {
        public float* C, QueryNorms, DatabaseNorms;
        public int N;
        public void Take(int i, int j, int ni, int nj, float* dots)
        {
            for (int r = 0; r < ni; r++)
                for (int s = 0; s < nj; s++)
                {
                    float v = QueryNorms[i + r] + DatabaseNorms[j + s] - 2 * dots[r * 4 + s];
                    C[(long)(i + r) * N + j + s] = v < 0 ? 0 : v;
                }
        }
    }

    /// <summary>Squared norms of the rows of a [rows, d] matrix, threaded.</summary>
    internal float[] RowNorms(float[] a, int rows, int d)
    {
        var norms = new float[rows];
        System.Threading.Tasks.Parallel.For(0, (rows + 4095) / 4096, Parallel, chunk =>
        {
            int r1 = Math.Min(rows, chunk * 4096 + 4096);
            for (int r = chunk * 4096; r < r1; r++)
            {
                var row = a.AsSpan((int)((long)r * d), d);
                norms[r] = System.Numerics.Tensors.TensorPrimitives.Dot(row, row);
            }
        });
        return norms;
    }
}
