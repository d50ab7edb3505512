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
            fixed (float* pa = q, pb = x, pc = output)
            {
                float* dots = stackalloc float[16];
                int i0 = tile * RowTile, i1 = Math.Min(m, i0 + RowTile);
                for (int j = 0; j < kk; j += 4)
                {
                    int nj = Math.Min(4, kk - j);
                    float* b0 = pb + (long)j * d, b1 = pb + (long)(j + Math.Min(1, nj - 1)) * d;
                    float* b2 = pb + (long)(j + Math.Min(2, nj - 1)) * d, b3 = pb + (long)(j + Math.Min(3, nj - 1)) * d;
                    for (int i = i0; i < i1; i += 4)
                    {
                        int ni = Math.Min(4, i1 - i);
                        float* a0 = pa + (long)i * d, a1 = pa + (long)(i + Math.Min(1, ni - 1)) * d;
                        float* a2 = pa + (long)(i + Math.Min(2, ni - 1)) * d, a3 = pa + (long)(i + Math.Min(3, ni - 1)) * d;
                        DotKernel.Dot4x4(a0, a1, a2, a3, b0, b1, b2, b3, d, dots);
                        for (int r = 0; r < ni; r++)
                            for (int s = 0; s < nj; s++)
                            {
                                float v = qn[i + r] + xn[j + s] - 2 * dots[r * 4 + s];
                                pc[(long)(i + r) * kk + j + s] = v < 0 ? 0 : v;
                            }
                    }
                }
            }
        });
        return result;
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
