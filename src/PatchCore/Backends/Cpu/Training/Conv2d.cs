using static PatchCore.Backends.TrainingContracts;
namespace PatchCore.Backends.Cpu;

/// <summary>
/// The training conv of the fast CPU backend (issue 13; the first ITrainingBackend op here, the interface itself
/// is declared once every op exists). Both gradients are GEMMs on the forward pass's packed micro-kernel over the
/// same im2col matrix col(x) [K = Cin·Kh·Kw, P = OH·OW] of each image:
///   weight gradient  dW [Cout, K] = Σ_images dY [Cout, P] · col(x)ᵀ       (depth P)
///   input gradient   dcol [K, P]  = Wᵀ [K, Cout] · dY [Cout, P]            (depth Cout), dx = col2im(dcol)
/// col(x) comes from the forward's packer (<see cref="Im2ColPacking"/>, one 32-pixel panel at a time, which
/// handles stride and asymmetric pads) and col2im is fused into the GEMM's sink: each dot product is added to
/// the input cell its (tap, pixel) read. Deterministic for any thread count: images are summed in a fixed
/// order within a fixed number of chunks (not the thread count), and the chunks are summed in order.
/// </summary>
public sealed partial class CpuBackend
{
    /// <summary>Partial weight-gradient sums: a fixed count, so the float32 sums do not depend on the machine.</summary>
    const int WeightGradientChunks = 4;

    /// <summary>The forward with a plain weight tensor: packed into a conv layer for this call (weights change
    /// every step; packing is one pass over them, small next to the GEMM).</summary>
    public DeviceTensor Conv2dForward(DeviceTensor x, DeviceTensor weight, DeviceTensor? bias, ConvSpec spec)
    {
        CheckTrainingConv(x, weight, spec);
        if (bias != null && !bias.Shape.AsSpan().SequenceEqual([spec.OutChannels]))
            throw new ArgumentException($"conv bias is {bias.ShapeString}, expected [{spec.OutChannels}]");
        var zeros = bias == null ? new float[spec.OutChannels] : null;
        using var conv = new CpuConv(spec, HostMemory.AsHost(weight).Span, bias == null ? zeros : HostMemory.AsHost(bias).Span);
        return Conv2d(x, conv);
    }

    public LayerGradients Conv2dBackward(DeviceTensor dy, DeviceTensor x, DeviceTensor weight, ConvSpec spec,
        bool inputGradient, bool biasGradient)
    {
        CheckTrainingConv(x, weight, spec);
        int n = x[0], h = x[2], w = x[3], oh = spec.OutH(h), ow = spec.OutW(w);
        if (!dy.Shape.AsSpan().SequenceEqual([n, spec.OutChannels, oh, ow]))
            throw new ArgumentException($"conv output gradient is {dy.ShapeString}, expected [{n},{spec.OutChannels},{oh},{ow}]");
        var job = new BackwardJob
        {
            Spec = spec, N = n, H = h, W = w, OW = ow, P = oh * ow,
            K = spec.InChannels * spec.KernelH * spec.KernelW,
            X = HostMemory.AsHost(x).Data, Dy = HostMemory.AsHost(dy).Data, Weight = HostMemory.AsHost(weight).Data,
        };
        var dw = WeightGradient(job);
        var dx = inputGradient ? InputGradient(job) : null;
        var db = biasGradient ? BiasGradient(job) : null;
        return new LayerGradients(dx, dw, db);
    }

    sealed class BackwardJob
    {
        public required ConvSpec Spec;
        public required int N, H, W, OW, P, K;
        public required float[] X, Dy, Weight;
    }

    /// <summary>
    /// Image <paramref name="img"/>'s im2col rows as the weight gradient's B: panels of 32 im2col rows (k), depth =
    /// pixels, [k panel][pixel][32]. The forward packer yields one 32-pixel panel at a time as [k][32 pixels]; each
    /// 32 x 32 block of it is transposed into place (reads within a 4 KiB block, writes in order). (Packing from a
    /// row-major im2col matrix column by column strode through megabytes per column: 56x56 layer1 convs ran their
    /// weight gradient 10x slower than their forward.)
    /// </summary>
    static unsafe void PackIm2ColAsColumns(BackwardJob j, int img, float[] panel, float[] packedB)
    {
        var s = j.Spec;
        int kPanels = PackedGemm.Panels(j.K);
        fixed (float* xp = j.X, pp = panel, bp = packedB)
        {
            float* image = xp + (long)img * s.InChannels * j.H * j.W;
            for (int q = 0; q * NR < j.P; q++)
            {
                // One 32-pixel panel, all K rows ([K][32]); no phase planes, so the packer takes its general path.
                Im2ColPacking.Pack(image, null, s, j.H, j.W, j.OW, j.P, 0, j.K, q * NR, 1, pp);
                int pixels = Math.Min(NR, j.P - q * NR);
                for (int kp = 0; kp < kPanels; kp++)
                {
                    int ks = Math.Min(NR, j.K - kp * NR);
                    float* src = pp + (long)kp * NR * NR;
                    float* dst = bp + ((long)kp * j.P + q * NR) * NR;
                    for (int u = 0; u < pixels; u++, dst += NR)
                    {
                        for (int kk = 0; kk < ks; kk++) dst[kk] = src[kk * NR + u];
                        for (int kk = ks; kk < NR; kk++) dst[kk] = 0; // columns past K
                    }
                }
            }
        }
    }

    /// <summary>
    /// Rows [row0, row0 + rows) of a row-major [·, d] matrix as the GEMM's A tile, [8-row panel][t][8] (what
    /// PackedGemm.PackTile writes), but walking t outermost so the writes run in order: 8 rows are read side by
    /// side instead of one row strided over the whole tile. Rows past the end of the last panel are zero.
    /// </summary>
    static void PackRowsTile(float[] a, int d, long row0, int rows, float[] tile)
    {
        for (int p = 0; p * PackedGemm.MR < rows; p++)
        {
            int valid = Math.Min(PackedGemm.MR, rows - p * PackedGemm.MR);
            long o = (long)p * d * PackedGemm.MR, src = (row0 + p * PackedGemm.MR) * d;
            for (int t = 0; t < d; t++, o += PackedGemm.MR)
            {
                for (int r = 0; r < valid; r++) tile[o + r] = a[src + (long)r * d + t];
                for (int r = valid; r < PackedGemm.MR; r++) tile[o + r] = 0;
            }
        }
    }

    /// <summary>dW = Σ_b dY_b · col(x_b)ᵀ: A = dY_b's rows (output channels, depth P), B = col's rows as columns.</summary>
    unsafe DeviceTensor WeightGradient(BackwardJob j)
    {
        var s = j.Spec;
        int m = s.OutChannels, chunks = Math.Min(j.N, WeightGradientChunks), perChunk = (j.N + chunks - 1) / chunks;
        chunks = (j.N + perChunk - 1) / perChunk;
        var partial = new float[chunks][];
        var pool = System.Buffers.ArrayPool<float>.Shared;
        int dwLength = checked(m * j.K);
        System.Threading.Tasks.Parallel.For(0, chunks, Parallel, c =>
        {
            // Scratch (and the partial sums) from the shared pool: fresh multi-megabyte arrays per call cost page
            // faults and gen-2 GCs (a fine-tuning step makes a dozen such calls).
            var sum = partial[c] = pool.Rent(dwLength);
            Array.Clear(sum, 0, dwLength); // the sink adds
            var panel = pool.Rent(checked(j.K * NR));
            var packedB = pool.Rent(checked(PackedGemm.Panels(j.K) * j.P * NR));
            var aTile = pool.Rent(checked(PackedGemm.RowTile * j.P));
            var dots = new float[PackedGemm.RowTile * NR];
            try
            {
                for (int img = c * perChunk; img < Math.Min(j.N, (c + 1) * perChunk); img++)
                {
                    PackIm2ColAsColumns(j, img, panel, packedB);
                    for (int i0 = 0; i0 < m; i0 += PackedGemm.RowTile)
                    {
                        int rows = Math.Min(PackedGemm.RowTile, m - i0);
                        // dY as [N·Cout, P] row-major: image img's channel i0 is row img·Cout + i0.
                        PackRowsTile(j.Dy, j.P, (long)img * m + i0, rows, aTile);
                        fixed (float* pd = dots, ps = sum)
                        {
                            var sink = new AddSink { C = ps + (long)i0 * j.K, N = j.K };
                            PackedGemm.Multiply(aTile, rows, j.P, packedB, j.K, pd, ref sink);
                        }
                    }
                }
            }
            finally { pool.Return(panel); pool.Return(packedB); pool.Return(aTile); }
        });
        var dw = HostMemory.Rent([m, s.InChannels, s.KernelH, s.KernelW]); // pooled: overwritten by the first chunk
        partial[0].AsSpan(0, dwLength).CopyTo(dw.Data);
        for (int c = 1; c < chunks; c++)
            System.Numerics.Tensors.TensorPrimitives.Add(dw.Span, partial[c].AsSpan(0, dwLength), dw.Span);
        foreach (var p in partial) pool.Return(p);
        return dw;
    }

    /// <summary>dcol = Wᵀ · dY_b (A = Wᵀ's rows, one per im2col row; B = dY_b's columns, one per pixel), scattered
    /// into dx_b by the sink (col2im). Images in parallel: each writes only its own dx.</summary>
    unsafe DeviceTensor InputGradient(BackwardJob j)
    {
        var s = j.Spec;
        int m = s.OutChannels;
        // Wᵀ [K, Cout] once per call, then its 128-row tiles packed once and shared by every image. All scratch
        // comes from the shared pool (PackTile clears what it packs; dyImage and packedB are fully rewritten per
        // image): fresh multi-megabyte arrays per call cost page faults and gen-2 GCs.
        var pool = System.Buffers.ArrayPool<float>.Shared;
        var wt = pool.Rent(checked(j.K * m));
        for (int co = 0; co < m; co++)
            for (int k = 0; k < j.K; k++) wt[(long)k * m + co] = j.Weight[(long)co * j.K + k];
        int tiles = (j.K + PackedGemm.RowTile - 1) / PackedGemm.RowTile;
        var aTiles = new float[tiles][];
        for (int t = 0; t < tiles; t++)
        {
            aTiles[t] = pool.Rent(PackedGemm.RowTile * m);
            PackedGemm.PackTile(wt, m, null, t * PackedGemm.RowTile, Math.Min(PackedGemm.RowTile, j.K - t * PackedGemm.RowTile), aTiles[t], null);
        }
        pool.Return(wt);
        var dx = HostMemory.Rent([j.N, s.InChannels, j.H, j.W]); // pooled: cleared next
        // col2im adds: every cell starts at zero (cells no window reads stay zero).
        Array.Clear(dx.Data, 0, (int)dx.Length);
        System.Threading.Tasks.Parallel.For(0, j.N, Parallel,
            () => (dyImage: pool.Rent(checked(m * j.P)), packedB: pool.Rent(checked(PackedGemm.Panels(j.P) * m * NR)), dots: new float[PackedGemm.RowTile * NR]),
            (img, _, scratch) =>
            {
                Array.Copy(j.Dy, (long)img * m * j.P, scratch.dyImage, 0, (long)m * j.P);
                for (int p = 0; p < PackedGemm.Panels(j.P); p++)
                    PackedGemm.PackColumns(scratch.dyImage, m, j.P, p, Math.Min(NR, j.P - p * NR), scratch.packedB);
                fixed (float* pd = scratch.dots, px = dx.Data)
                    for (int t = 0; t < tiles; t++)
                    {
                        var sink = new Col2ImSink
                        {
                            Dx = px + (long)img * s.InChannels * j.H * j.W, K0 = t * PackedGemm.RowTile,
                            Spec = s, H = j.H, W = j.W, OW = j.OW,
                        };
                        PackedGemm.Multiply(aTiles[t], Math.Min(PackedGemm.RowTile, j.K - t * PackedGemm.RowTile), m, scratch.packedB, j.P, pd, ref sink);
                    }
                return scratch;
            },
            scratch => { pool.Return(scratch.dyImage); pool.Return(scratch.packedB); });
        foreach (var t in aTiles) pool.Return(t);
        return dx;
    }

    /// <summary>db[co] = Σ over images and pixels of dy, in double (one pass; deterministic).</summary>
    DeviceTensor BiasGradient(BackwardJob j)
    {
        int m = j.Spec.OutChannels;
        var db = HostMemory.Allocate([m]);
        for (int co = 0; co < m; co++)
        {
            double acc = 0;
            for (int img = 0; img < j.N; img++)
            {
                long o = ((long)img * m + co) * j.P;
                for (int p = 0; p < j.P; p++) acc += j.Dy[o + p];
            }
            db.Data[co] = (float)acc;
        }
        return db;
    }

    /// <summary>C[r, j0 + s] += dots[r, s]: sums the weight gradient over the images of a chunk.</summary>
    unsafe struct AddSink : IBlockSink
    {
        public float* C;
        public int N;
        public void Take(int rows, int j0, int nj, float* dots)
        {
            for (int r = 0; r < rows; r++)
            {
                var dst = new Span<float>(C + (long)r * N + j0, nj);
                System.Numerics.Tensors.TensorPrimitives.Add(dst, new ReadOnlySpan<float>(dots + r * NR, nj), dst);
            }
        }
    }

    /// <summary>col2im: dot (im2col row k0 + r, pixel j0 + s) is the gradient of the input cell that tap read;
    /// taps in the padding read no cell and are dropped.</summary>
    unsafe struct Col2ImSink : IBlockSink
    {
        public float* Dx;
        public int K0, H, W, OW;
        public ConvSpec Spec;
        public void Take(int rows, int j0, int nj, float* dots)
        {
            var s = Spec;
            int khw = s.KernelH * s.KernelW, oy0 = j0 / OW, ox0 = j0 - oy0 * OW;
            for (int r = 0; r < rows; r++)
            {
                int k = K0 + r, ci = k / khw, tap = k - ci * khw, ky = tap / s.KernelW, kx = tap - ky * s.KernelW;
                float* plane = Dx + (long)ci * H * W;
                float* d = dots + r * NR;
                // Pixels walked row by row (no division per element: it cost more than the GEMM on 56x56 maps).
                int oy = oy0, ox = ox0;
                for (int t = 0; t < nj; t++)
                {
                    int iy = oy * s.Stride - s.PadTop + ky, ix = ox * s.Stride - s.PadLeft + kx;
                    if ((uint)iy < (uint)H && (uint)ix < (uint)W) plane[(long)iy * W + ix] += d[t];
                    if (++ox == OW) { ox = 0; oy++; }
                }
            }
        }
    }
}
