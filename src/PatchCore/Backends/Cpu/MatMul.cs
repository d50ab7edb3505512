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
                    int i0 = tile * RowTile, i1 = Math.Min(m, i0 + RowTile);
                    var sink = new StoreSink { C = pc, N = n };
                    DotKernel.Tiles(pa, i0, i1, pb, n, k, ref sink);
                }
            });
        }
        finally { ArrayPool<float>.Shared.Return(bt); }
        return c;
    }

    /// <summary>C[i, j] = a_i · bᵀ_j.</summary>
    unsafe struct StoreSink : IDotTileSink
    {
        public float* C;
        public int N;
        public void Take(int i, int j, int ni, int nj, float* dots)
        {
            for (int r = 0; r < ni; r++)
                for (int s = 0; s < nj; s++) C[(long)(i + r) * N + j + s] = dots[r * 4 + s];
        }
    }
}
