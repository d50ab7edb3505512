using System.Buffers;

namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>Rows of A per parallel work item: 64 rows of 1024 floats (256 KB) stay in L2 while 4 B rows sit in L1.</summary>
    internal const int RowTile = 64;

    /// <summary>c = a·b: b is transposed once (pooled scratch) so the 4x4 kernel reads both operands contiguously.</summary>
    public unsafe DeviceTensor MatMul(DeviceTensor a, DeviceTensor b)
    {
        var (m, k, n) = LinearAlgebraChecks.MatMulShape(a, b);
        var x = HostMemory.AsHost(a).Data;
        var y = HostMemory.AsHost(b).Data;
        var c = HostMemory.Allocate([m, n]);
        if (m == 0 || n == 0) return c;
        float[] bt = ArrayPool<float>.Shared.Rent(Math.Max(1, k * n));
        try
        {
            for (int t = 0; t < k; t++)
                for (int j = 0; j < n; j++) bt[(long)j * k + t] = y[(long)t * n + j];
            var output = c.Data;
            System.Threading.Tasks.Parallel.For(0, (m + RowTile - 1) / RowTile, Parallel, tile =>
            {
                fixed (float* pa = x, pb = bt, pc = output)
                {
                    float* dots = stackalloc float[16];
                    int i0 = tile * RowTile, i1 = Math.Min(m, i0 + RowTile);
                    for (int j = 0; j < n; j += 4)
                    {
                        int nj = Math.Min(4, n - j);
                        float* b0 = pb + (long)j * k, b1 = pb + (long)(j + Math.Min(1, nj - 1)) * k;
                        float* b2 = pb + (long)(j + Math.Min(2, nj - 1)) * k, b3 = pb + (long)(j + Math.Min(3, nj - 1)) * k;
                        for (int i = i0; i < i1; i += 4)
                        {
                            int ni = Math.Min(4, i1 - i);
                            float* a0 = pa + (long)i * k, a1 = pa + (long)(i + Math.Min(1, ni - 1)) * k;
                            float* a2 = pa + (long)(i + Math.Min(2, ni - 1)) * k, a3 = pa + (long)(i + Math.Min(3, ni - 1)) * k;
                            DotKernel.Dot4x4(a0, a1, a2, a3, b0, b1, b2, b3, k, dots);
                            for (int r = 0; r < ni; r++)
                                for (int s = 0; s < nj; s++) pc[(long)(i + r) * n + j + s] = dots[r * 4 + s];
                        }
                    }
                }
            });
        }
        finally { ArrayPool<float>.Shared.Return(bt); }
        return c;
    }
}
