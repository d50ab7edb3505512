using System.Buffers;
using System.Runtime.CompilerServices;

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
        sealed record TilingChoice(int N, int PixelPanels, int MaxPerCol, int Threads, int Cols, int Rows);
        TilingChoice? lastTiling; // one reference, so concurrent callers never see half an update

        /// <summary>
        /// How to cut one call into tiles: ColBlocks pixel blocks per image x RowBlocks blocks of weight panels.
        /// Many images: whole-width pixel blocks of at most maxPerCol panels, one row block. Few: the cut whose
        /// busiest thread has the least work, counting a tile as (pixel panels) x (weight panels + 1 for packing)
        /// and the tiles as dealt round the threads. One image's layer3 at 224 (7 pixel panels, 32 weight
        /// panels) on 2 threads: 4 + 3 pixel panels cost the busier thread 4 x 33 = 132; all 7 pixel panels
        /// with half the weight panels each cost 7 x 17 = 119 (the ideal is 112). Cached per input size.
        /// </summary>
        public (int ColBlocks, int RowBlocks) Tiling(int n, int pixelPanels, int maxPerCol, int threads)
        {
            var last = lastTiling;
            if (last != null && last.N == n && last.PixelPanels == pixelPanels && last.MaxPerCol == maxPerCol && last.Threads == threads)
                return (last.Cols, last.Rows);
            int minCols = (pixelPanels + maxPerCol - 1) / maxPerCol;
            int cols = minCols, rows = 1;
            if (threads > 1 && (long)n * minCols < 8 * threads)
            {
                long best = long.MaxValue;
                int maxCols = Math.Min(pixelPanels, Math.Max(minCols, 4 * threads));
                int maxRows = Math.Min(Panels, 2 * threads);
                for (int rb = 1; rb <= maxRows; rb++)
                for (int cb = minCols; cb <= maxCols; cb++)
                {
                    long perCol = (pixelPanels + cb - 1) / cb, perRow = (Panels + rb - 1) / rb;
                    long rounds = ((long)n * cb * rb + threads - 1) / threads;
                    long cost = rounds * perCol * (perRow + 1);
                    if (cost < best) { best = cost; cols = cb; rows = rb; }
                }
            }
            lastTiling = new TilingChoice(n, pixelPanels, maxPerCol, threads, cols, rows);
            return (cols, rows);
        }

        public int K { get; }
        public int Panels { get; }
        public float[] Packed { get; }
        public float[] Bias { get; }
    }

    public ConvLayer CreateConv(ConvSpec spec, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias)
    {
        OpContracts.CreateConv(spec, weight.Length, bias.Length);
        return new CpuConv(spec, weight, bias);
    }

    /// <summary>Everything one conv call's tiles share (a class, so the parallel body captures one reference).</summary>
    sealed class ConvJob
    {
        public required CpuConv Conv;
        public required float[] X, Y;
        public float[]? Res, Phases;
        public bool Relu;
        public int H, W, OW, P, PixelPanels, ColBlocks, PanelsPerCol, RowBlocks, PanelsPerRow, KBlocks, Kc;
    }

    public DeviceTensor Conv2d(DeviceTensor x, ConvLayer conv, DeviceTensor? residual = null, bool relu = false)
    {
        var (oh, ow) = OpContracts.Conv2d(x, conv.Spec, residual);
        var c = conv as CpuConv ?? throw new ArgumentException("conv layer does not belong to the cpu backend");
        var s = c.Spec;
        int n = x[0], h = x[2], w = x[3], p = oh * ow;
        var y = HostMemory.Rent([n, s.OutChannels, oh, ow]);
        float[]? res = null;
        if (residual != null)
        {
            res = HostMemory.AsHost(residual).Data;
        }
        if (n == 0 || p == 0) return y;

        var job = new ConvJob
        {
            Conv = c, X = HostMemory.AsHost(x).Data, Y = y.Data, Res = res, Relu = relu,
            H = h, W = w, OW = ow, P = p, PixelPanels = (p + NR - 1) / NR, KBlocks = (c.K + KcMax - 1) / KcMax,
        };
        job.Kc = (c.K + job.KBlocks - 1) / job.KBlocks;
        // A pixel block's packed B (Kc x PanelsPerCol x NR floats, <= 512 KiB) stays in L2 while every weight
        // panel of the k block passes over it.
        int maxPerCol = Math.Max(1, 4096 / job.Kc);
        (job.ColBlocks, job.RowBlocks) = c.Tiling(n, job.PixelPanels, maxPerCol, Threads);
        job.PanelsPerCol = (job.PixelPanels + job.ColBlocks - 1) / job.ColBlocks;
        job.ColBlocks = (job.PixelPanels + job.PanelsPerCol - 1) / job.PanelsPerCol;
        job.PanelsPerRow = (c.Panels + job.RowBlocks - 1) / job.RowBlocks;
        job.RowBlocks = (c.Panels + job.PanelsPerRow - 1) / job.PanelsPerRow;
        // Tiles are (image, pixel block, weight-panel block): each packs its own B right before use, so the
        // packed panels are written and read by the same core. (A variant that packed one image's B once and
        // split the output channels over the threads read half of every B from the other core's cache; on this
        // 2-vCPU VM that ran layer2/layer3 at batch 1 up to 1.6x slower.) Packing is cheap next to the GEMM
        // (one im2col row is two masked loads), so a channel split that packs the same pixels on both cores
        // costs little and balances the odd panel counts of small images.
        int pixelTiles = n * job.ColBlocks;
        int tiles = pixelTiles * job.RowBlocks;
        HostDeviceTensor? phases = null;
        try
        {
            if (Im2ColPacking.UsesPhases(s, h, w))
            {
                phases = HostMemory.Rent([n, (int)Im2ColPacking.PhaseLength(s, h, w)]);
                job.Phases = phases.Data;
                ParallelFor(n * s.InChannels, i => SplitPhases(job, i));
            }
            ParallelFor(tiles, t => FusedTile(job, t));
        }
        finally { phases?.Dispose(); }
        return y;
    }

    void ParallelFor(int count, Action<int> body)
    {
        if (count == 1 || Threads == 1)
            for (int i = 0; i < count; i++) body(i);
        else
            Team.For(count, body);
    }

    static unsafe void SplitPhases(ConvJob j, int index)
    {
        var s = j.Conv.Spec;
        int img = index / s.InChannels, ci = index - img * s.InChannels;
        long length = Im2ColPacking.PhaseLength(s, j.H, j.W);
        fixed (float* xp = j.X, pp = j.Phases)
            Im2ColPacking.SplitPhases(xp + (long)img * s.InChannels * j.H * j.W, s, j.H, j.W, ci, pp + img * length);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void FusedTile(ConvJob j, int tile)
    {
        int rb = tile % j.RowBlocks, pt = tile / j.RowBlocks;
        int cb = pt % j.ColBlocks, img = pt / j.ColBlocks;
        int q0 = cb * j.PanelsPerCol, panels = Math.Min(j.PanelsPerCol, j.PixelPanels - q0);
        int pnl0 = rb * j.PanelsPerRow, pnl1 = Math.Min(j.Conv.Panels, pnl0 + j.PanelsPerRow);
        var s = j.Conv.Spec;
        var pack = ArrayPool<float>.Shared.Rent(j.Kc * panels * NR);
        try
        {
            fixed (float* xp = j.X, bp = pack, pp = j.Phases)
            {
                float* image = xp + (long)img * s.InChannels * j.H * j.W;
                float* phases = pp == null ? null : pp + img * Im2ColPacking.PhaseLength(s, j.H, j.W);
                for (int kb = 0; kb < j.KBlocks; kb++)
                {
                    int k0 = kb * j.Kc, kc = Math.Min(j.Kc, j.Conv.K - k0);
                    Im2ColPacking.Pack(image, phases, s, j.H, j.W, j.OW, j.P, k0, kc, q0 * NR, panels, bp);
                    Block(j, img, kb, kc, bp, q0, panels, pnl0, pnl1);
                }
            }
        }
        finally { ArrayPool<float>.Shared.Return(pack); }
    }

    /// <summary>One k block of one tile: every (pixel panel, weight panel) pair, pixel panel outermost so its
    /// B micro-panel stays in L1 while the weight panels stream past. Bias starts the sum at the first k block;
    /// the residual and ReLU are applied at the last.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Block(ConvJob j, int img, int kb, int kc, float* packedB, int q0, int panels, int pnl0, int pnl1)
    {
        var c = j.Conv;
        int m = c.Spec.OutChannels, pAll = j.P;
        bool first = kb == 0, last = kb == j.KBlocks - 1;
        float* tmpC = stackalloc float[MR * NR];
        float* tmpR = stackalloc float[MR * NR];
        fixed (float* yp = j.Y, rp = j.Res, ap = c.Packed, bias = c.Bias)
        {
            long yImg = (long)img * m * pAll;
            for (int q = 0; q < panels; q++)
            {
                int col = (q0 + q) * NR, cols = Math.Min(NR, pAll - col);
                float* b = packedB + (long)q * kc * NR;
                for (int pn = pnl0; pn < pnl1; pn++)
                {
                    int row = pn * MR, rows = Math.Min(MR, m - row);
                    float* a = ap + ((long)pn * c.K + kb * j.Kc) * MR;
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

    static unsafe void CopyTile(float* src, int lds, float* dst, int ldd, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
            new ReadOnlySpan<float>(src + (long)r * lds, cols).CopyTo(new Span<float>(dst + (long)r * ldd, cols));
    }
}
