using System.Buffers;

namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    const int MR = GemmKernel.MR, NR = GemmKernel.NR;
    /// <summary>Largest k block: a 32-pixel B panel of KcMax rows (32 KiB) stays in L1 while the weight
    /// panels of the block (Cout x KcMax) stream from L2.</summary>
    internal static int KcMax = 256;

    /// <summary>Weights packed once as panels of MR output channels, [Cout/MR][K][MR], zero-padded rows;
    /// bias padded to whole panels.</summary>
    internal sealed class CpuConv : ConvLayer
    {
        public CpuConv(ConvSpec spec, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias) : base(spec)
        {
            K = spec.InChannels * spec.KernelH * spec.KernelW;
            Panels = (spec.OutChannels + MR - 1) / MR;
            Packed = new float[(long)Panels * K * MR];
            Bias = new float[Panels * MR];
            for (int co = 0; co < spec.OutChannels; co++)
            {
                int pnl = co / MR, r = co % MR;
                var wrow = weight.Slice(co * K, K);
                for (int k = 0; k < K; k++) Packed[((long)pnl * K + k) * MR + r] = wrow[k];
                Bias[co] = bias[co];
            }
        }
        public int K { get; }
        public int Panels { get; }
        public float[] Packed { get; }
        public float[] Bias { get; }
    }

    public ConvLayer CreateConv(ConvSpec spec, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias)
    {
        if (weight.Length != spec.WeightLength) throw new ArgumentException($"conv weight has {weight.Length} values, spec needs {spec.WeightLength}");
        if (bias.Length != spec.OutChannels) throw new ArgumentException($"conv bias has {bias.Length} values, spec needs {spec.OutChannels}");
        return new CpuConv(spec, weight, bias);
    }

    /// <summary>Everything one conv call's tiles share (a class, so the parallel body captures one reference).</summary>
    sealed class ConvJob
    {
        public required CpuConv Conv;
        public required float[] X, Y;
        public float[]? Res;
        public bool Relu;
        public int H, W, OW, P, ColBlocks, RowBlocks, PanelsPerCol, PanelsPerRow, KBlocks, Kc;
    }

    public DeviceTensor Conv2d(DeviceTensor x, ConvLayer conv, DeviceTensor? residual = null, bool relu = false)
    {
        var c = conv as CpuConv ?? throw new ArgumentException("conv layer does not belong to the cpu backend");
        var s = c.Spec;
        if (x.Rank != 4 || x[1] != s.InChannels) throw new ArgumentException($"conv input {x.ShapeString} does not match Cin {s.InChannels}");
        int n = x[0], h = x[2], w = x[3], oh = s.OutH(h), ow = s.OutW(w), p = oh * ow;
        var y = HostMemory.Allocate([n, s.OutChannels, oh, ow]);
        float[]? res = null;
        if (residual != null)
        {
            if (!residual.Shape.AsSpan().SequenceEqual(y.Shape)) throw new ArgumentException($"residual {residual.ShapeString} differs from conv output {y.ShapeString}");
            res = HostMemory.AsHost(residual).Data;
        }
        if (n == 0 || p == 0) return y;

        // Tiles: (image, pixel block, channel block). Wide pixel blocks keep packing cheap; split finer only
        // until every thread has several tiles to balance.
        int pixelPanels = (p + NR - 1) / NR;
        int wantTiles = Threads == 1 ? 1 : 4 * Threads;
        int panelsPerCol = Math.Min(pixelPanels, 8);
        while (panelsPerCol > 1 && n * ((pixelPanels + panelsPerCol - 1) / panelsPerCol) < wantTiles) panelsPerCol /= 2;
        int colBlocks = (pixelPanels + panelsPerCol - 1) / panelsPerCol;
        int rowBlocks = 1;
        while (n * colBlocks * rowBlocks < wantTiles && c.Panels / (rowBlocks * 2) >= 2) rowBlocks *= 2;
        int kBlocks = (c.K + KcMax - 1) / KcMax;
        var job = new ConvJob
        {
            Conv = c, X = HostMemory.AsHost(x).Data, Y = y.Data, Res = res, Relu = relu,
            H = h, W = w, OW = ow, P = p, ColBlocks = colBlocks, RowBlocks = rowBlocks,
            PanelsPerCol = panelsPerCol, PanelsPerRow = (c.Panels + rowBlocks - 1) / rowBlocks,
            KBlocks = kBlocks, Kc = (c.K + kBlocks - 1) / kBlocks,
        };
        int tiles = n * colBlocks * rowBlocks;
        if (tiles == 1 || Threads == 1)
            for (int t = 0; t < tiles; t++) ConvTile(job, t);
        else
            System.Threading.Tasks.Parallel.For(0, tiles, Parallel, t => ConvTile(job, t));
        return y;
    }

    static unsafe void ConvTile(ConvJob j, int tile)
    {
        var c = j.Conv;
        var s = c.Spec;
        int rb = tile % j.RowBlocks, rest = tile / j.RowBlocks, cb = rest % j.ColBlocks, img = rest / j.ColBlocks;
        int j0 = cb * j.PanelsPerCol * NR;
        int panels = Math.Min(j.PanelsPerCol, (j.P - j0 + NR - 1) / NR);
        int pnl0 = rb * j.PanelsPerRow, pnl1 = Math.Min(c.Panels, pnl0 + j.PanelsPerRow);
        int m = s.OutChannels, pAll = j.P;
        var pack = ArrayPool<float>.Shared.Rent(j.Kc * panels * NR);
        float* tmpC = stackalloc float[MR * NR];
        float* tmpR = stackalloc float[MR * NR];
        try
        {
            fixed (float* xp = j.X, yp = j.Y, rp = j.Res, ap = c.Packed, bias = c.Bias, bp = pack)
            {
                float* xImg = xp + (long)img * s.InChannels * j.H * j.W;
                long yImg = (long)img * m * pAll;
                for (int kb = 0; kb < j.KBlocks; kb++)
                {
                    int k0 = kb * j.Kc, kc = Math.Min(j.Kc, c.K - k0);
                    bool first = kb == 0, last = kb == j.KBlocks - 1;
                    Im2ColPacking.Pack(xImg, s, j.H, j.W, j.OW, pAll, k0, kc, j0, panels, bp);
                    for (int q = 0; q < panels; q++)
                    {
                        int col = j0 + q * NR, cols = Math.Min(NR, pAll - col);
                        float* b = bp + (long)q * kc * NR;
                        for (int pn = pnl0; pn < pnl1; pn++)
                        {
                            int row = pn * MR, rows = Math.Min(MR, m - row);
                            float* a = ap + ((long)pn * c.K + k0) * MR;
                            float* cy = yp + yImg + (long)row * pAll + col;
                            float* cr = rp == null || !last ? null : rp + yImg + (long)row * pAll + col;
                            if (rows == MR && cols == NR)
                            {
                                GemmKernel.Tile(kc, a, b, cy, pAll, bias + row, first, cr, pAll, last, j.Relu);
                                continue;
                            }
                            // Edge tile: compute a whole tile in scratch, copy back the valid part.
                            if (!first) CopyTile(cy, pAll, tmpC, NR, rows, cols);
                            if (cr != null) CopyTile(cr, pAll, tmpR, NR, rows, cols);
                            GemmKernel.Tile(kc, a, b, tmpC, NR, bias + row, first, cr == null ? null : tmpR, NR, last, j.Relu);
                            CopyTile(tmpC, NR, cy, pAll, rows, cols);
                        }
                    }
                }
            }
        }
        finally { ArrayPool<float>.Shared.Return(pack); }
    }

    static unsafe void CopyTile(float* src, int lds, float* dst, int ldd, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
            new ReadOnlySpan<float>(src + (long)r * lds, cols).CopyTo(new Span<float>(dst + (long)r * ldd, cols));
    }
}
