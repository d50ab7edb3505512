namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>c = a·b: b's columns packed once as PackedGemm's B panels, tiles of 128 rows of a.</summary>
    public unsafe DeviceTensor MatMul(DeviceTensor a, DeviceTensor b)
    {
        var (m, k, n) = OpContracts.MatMul(a, b);
        var x = HostMemory.AsHost(a).Data;
        var y = HostMemory.AsHost(b).Data;
        var c = HostMemory.Allocate([m, n]);
        if (m == 0 || n == 0) return c;
        int panels = PackedGemm.Panels(n);
        var packed = new float[(long)panels * k * PackedGemm.NR];
        for (int p = 0; p < panels; p++) PackedGemm.PackColumns(y, k, n, p, Math.Min(PackedGemm.NR, n - p * PackedGemm.NR), packed);
        var output = c.Data;
        int tileRows = TileRows(m);
        System.Threading.Tasks.Parallel.For(0, (m + tileRows - 1) / tileRows, Parallel,
            () => (new float[(long)tileRows * k], new float[tileRows * PackedGemm.NR]),
            (tile, _, scratch) =>
            {
                var (aPack, dots) = scratch;
                int i0 = tile * tileRows, rows = Math.Min(tileRows, m - i0);
                PackedGemm.PackTile(x, k, null, i0, rows, aPack, null);
                fixed (float* pc = output, pd = dots)
                {
                    var sink = new StoreSink { C = pc + (long)i0 * n, N = n };
                    PackedGemm.Multiply(aPack, rows, k, packed, n, pd, ref sink);
                }
                return scratch;
            },
            _ => { });
        return c;
    }

    /// <summary>C[r, j] = a_r · b_j for the tile's rows (C points at its first row).</summary>
    unsafe struct StoreSink : IBlockSink
    {
        public float* C;
        public int N;
        public void Take(int rows, int j0, int nj, float* dots)
        {
            for (int r = 0; r < rows; r++)
                new ReadOnlySpan<float>(dots + r * PackedGemm.NR, nj).CopyTo(new Span<float>(C + (long)r * N + j0, nj));
        }
    }
}
