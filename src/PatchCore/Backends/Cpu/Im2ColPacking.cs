using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PatchCore.Backends.Cpu;

/// <summary>
/// Packs the GEMM's right-hand side straight from the NCHW input: rows k = (ci, ky, kx) of the im2col
/// matrix, columns = output pixels, laid out as panels [panel][k][NR] that the microkernel streams.
/// No full im2col matrix is ever built; padded cells and columns past the image are written as zeros.
/// Three ways, fastest first: shifted windows of the input (stride-1 convs whose output is as large as the
/// input), shifted windows of the input's phase planes (stride-2 convs that halve it), and copies of runs of
/// input rows (everything else, and machines without AVX2).
/// </summary>
internal static unsafe class Im2ColPacking
{
    const int NR = GemmKernel.NR;

    /// <summary>
    /// Stride-2 convs whose output is half the input (every downsampling conv and the stem of a ResNet) are packed
    /// from the input split into its four phases (even/odd rows x even/odd columns, each an OutH x OutW plane):
    /// tap (ky, kx) of output pixel (oy, ox) reads phase ((ky − padTop) mod 2, (kx − padLeft) mod 2) at
    /// (oy + ⌊(ky − padTop)/2⌋, ox + ⌊(kx − padLeft)/2⌋), which is a shifted window again.
    /// </summary>
    public static bool UsesPhases(ConvSpec s, int h, int w) =>
        s.Stride == 2 && (h + 1) / 2 <= s.OutH(h) && (w + 1) / 2 <= s.OutW(w) && WindowsAvailable(s);

    /// <summary>The window packer can run: taps fit its stack masks, the CPU has masked loads, tests did not forbid it.</summary>
    static bool WindowsAvailable(ConvSpec s) => s.KernelH * s.KernelW <= MaxShiftedTaps && Avx2.IsSupported && !ForceRuns;

    /// <summary>Floats of one image's phase planes: [4][Cin][OutH x OutW].</summary>
    public static long PhaseLength(ConvSpec s, int h, int w) => 4L * s.InChannels * s.OutH(h) * s.OutW(w);

    /// <summary>Writes channel <paramref name="ci"/> of one image (x = its first plane) into its four phase planes.
    /// Cells past a phase's last row or column are left as they are: no tap reads them.</summary>
    public static void SplitPhases(float* x, ConvSpec s, int h, int w, int ci, float* phases)
    {
        int oh = s.OutH(h), ow = s.OutW(w);
        long plane = (long)oh * ow;
        for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++)
        {
            int rows = (h - a + 1) / 2, cols = (w - b + 1) / 2;
            float* dst = phases + ((a * 2 + b) * (long)s.InChannels + ci) * plane;
            for (int i = 0; i < rows; i++)
                Stride2(x + ((long)ci * h + 2 * i + a) * w, w, b, cols, dst + (long)i * ow);
        }
    }

    /// <param name="x">The image's first channel plane [Cin, H, W].</param>
    /// <param name="phases">The image's phase planes when <see cref="UsesPhases"/> (else null).</param>
    /// <param name="k0">First im2col row of the block; <paramref name="kc"/> rows.</param>
    /// <param name="j0">First output pixel; <paramref name="panels"/> panels of NR pixels.</param>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Pack(float* x, float* phases, ConvSpec s, int h, int w, int ow, int p, int k0, int kc, int j0, int panels, float* dst)
    {
        int khw = s.KernelH * s.KernelW, stride = s.Stride;
        if (stride == 1 && ow == w && s.OutH(h) == h && WindowsAvailable(s))
        {
            PackWindows(x, s, h, w, p, k0, kc, j0, panels, dst);
            return;
        }
        if (phases != null)
        {
            PackWindows(phases, s, h, w, p, k0, kc, j0, panels, dst);
            return;
        }
        for (int q = 0; q < panels; q++)
        {
            int jStart = j0 + q * NR;
            int oyStart = jStart / ow, oxStart = jStart - oyStart * ow;
            int ci = k0 / khw, r = k0 - ci * khw, ky = r / s.KernelW, kx = r - ky * s.KernelW;
            float* d = dst + (long)q * kc * NR;
            for (int kk = 0; kk < kc; kk++, d += NR)
            {
                float* plane = x + (long)ci * h * w;
                int t = 0, j = jStart, oy = oyStart, ox = oxStart;
                while (t < NR)
                {
                    if (j >= p) { new Span<float>(d + t, NR - t).Clear(); break; }
                    int len = Math.Min(NR - t, ow - ox);
                    int iy = oy * stride - s.PadTop + ky;
                    if ((uint)iy >= (uint)h) new Span<float>(d + t, len).Clear();
                    else
                    {
                        float* row = plane + (long)iy * w;
                        int ix0 = ox * stride - s.PadLeft + kx;
                        if (stride == 1)
                        {
                            // Valid input columns [lo, hi) of the run, zeros on either side.
                            int lo = Math.Max(0, -ix0), hi = Math.Min(len, w - ix0);
                            if (hi <= lo) new Span<float>(d + t, len).Clear();
                            else
                            {
                                if (lo > 0) new Span<float>(d + t, lo).Clear();
                                new ReadOnlySpan<float>(row + ix0 + lo, hi - lo).CopyTo(new Span<float>(d + t + lo, hi - lo));
                                if (hi < len) new Span<float>(d + t + hi, len - hi).Clear();
                            }
                        }
                        else if (stride == 2 && Avx512F.IsSupported) Stride2(row, w, ix0, len, d + t);
                        else
                        {
                            for (int u = 0; u < len; u++)
                            {
                                int ix = ix0 + u * stride;
                                d[t + u] = (uint)ix < (uint)w ? row[ix] : 0f;
                            }
                        }
                    }
                    t += len; j += len; ox = 0; oy++;
                }
                if (++kx == s.KernelW) { kx = 0; if (++ky == s.KernelH) { ky = 0; ci++; } }
            }
        }
    }

    /// <summary>Taps per channel the shifted packer handles (its lane masks live on the stack): up to 7x7.</summary>
    const int MaxShiftedTaps = 49;

    /// <summary>Tests flip this to pack every conv with the run copies, to compare the two packers.</summary>
    internal static bool ForceRuns;

    /// <summary>
    /// Packing by shifted windows. Stride 1 with "same" padding (output as large as the input: every 3x3 pad-1 and
    /// 1x1 conv of a ResNet): output pixel j and input pixel j + dy·w + dx line up, so the im2col row of tap
    /// (dy, dx) for a 32-pixel panel is one contiguous 32-float window of the channel plane, shifted by dy·w + dx.
    /// Stride 2 reads the phase planes the same way (<see cref="UsesPhases"/>). Lanes whose tap falls in the
    /// padding (they would read the neighbouring row or plane) or whose pixel is past the end are masked to 0;
    /// masked loads neither read nor fault on those lanes, so windows that start before the first plane or end
    /// after the last are safe. The masks depend only on (panel, tap) and are made once per panel, so an im2col
    /// row costs two masked loads and two stores. (The run copies cost several span calls per row: a third of a
    /// 3x3 conv's time at batch 1.)
    /// </summary>
    /// <param name="src">Stride 1: the image [Cin][H][W]. Stride 2: its phases [4][Cin][OutH][OutW].</param>
    static void PackWindows(float* src, ConvSpec s, int h, int w, int p, int k0, int kc, int j0, int panels, float* dst)
    {
        int khw = s.KernelH * s.KernelW, oh = s.OutH(h), ow = s.OutW(w);
        long plane = (long)oh * ow;
        int* masks = stackalloc int[khw * NR];   // [tap][lane]: -1 where the lane reads the image
        long* shifts = stackalloc long[khw];     // where tap's window starts, from (channel plane + panel's first pixel)
        int* dys = stackalloc int[khw], dxs = stackalloc int[khw], rowsOf = stackalloc int[khw], colsOf = stackalloc int[khw];
        for (int r = 0; r < khw; r++)
        {
            int ry = r / s.KernelW - s.PadTop, rx = r % s.KernelW - s.PadLeft;
            if (s.Stride == 1) { dys[r] = ry; dxs[r] = rx; rowsOf[r] = h; colsOf[r] = w; shifts[r] = (long)ry * ow + rx; }
            else
            {
                int a = ry & 1, b = rx & 1;             // the phase; >> floors negative offsets too
                dys[r] = ry >> 1; dxs[r] = rx >> 1;
                rowsOf[r] = (h - a + 1) / 2; colsOf[r] = (w - b + 1) / 2;
                shifts[r] = (a * 2 + b) * s.InChannels * plane + (long)dys[r] * ow + dxs[r];
            }
        }
        int* oy = stackalloc int[NR];
        int* ox = stackalloc int[NR];
        for (int q = 0; q < panels; q++)
        {
            int jStart = j0 + q * NR;
            // Row and column of each lane's pixel; a pixel past the end gets a row no tap brings into the image.
            int y0 = jStart / ow, x0 = jStart - y0 * ow;
            for (int u = 0; u < NR; u++)
            {
                oy[u] = jStart + u < p ? y0 : int.MinValue / 2;
                ox[u] = x0;
                if (++x0 == ow) { x0 = 0; y0++; }
            }
            for (int r = 0; r < khw; r++)
            {
                var dy = Vector256.Create(dys[r]);
                var dx = Vector256.Create(dxs[r]);
                var rows = Vector256.Create((uint)rowsOf[r]);
                var cols = Vector256.Create((uint)colsOf[r]);
                for (int u = 0; u < NR; u += 8)
                {
                    var inRow = Vector256.LessThan((Vector256.Load(oy + u) + dy).AsUInt32(), rows);
                    var inCol = Vector256.LessThan((Vector256.Load(ox + u) + dx).AsUInt32(), cols);
                    (inRow & inCol).AsInt32().Store(masks + r * NR + u);
                }
            }
            int ci = k0 / khw, tap = k0 - ci * khw;
            float* d = dst + (long)q * kc * NR;
            float* planeStart = src + ci * plane + jStart;
            if (Avx512F.IsSupported && !GemmKernel.ForceVector256) // tests force the AVX2 path with the GEMM's switch
            {
                for (int kk = 0; kk < kc; kk++, d += NR)
                {
                    float* from = planeStart + shifts[tap];
                    int* m = masks + tap * NR;
                    Avx512F.MaskLoad(from, Vector512.Load(m).AsSingle(), Vector512<float>.Zero).Store(d);
                    Avx512F.MaskLoad(from + 16, Vector512.Load(m + 16).AsSingle(), Vector512<float>.Zero).Store(d + 16);
                    if (++tap == khw) { tap = 0; planeStart += plane; }
                }
            }
            else
            {
                for (int kk = 0; kk < kc; kk++, d += NR)
                {
                    float* from = planeStart + shifts[tap];
                    int* m = masks + tap * NR;
                    for (int g = 0; g < NR; g += 8)
                        Avx.MaskLoad(from + g, Vector256.Load(m + g).AsSingle()).Store(d + g);
                    if (++tap == khw) { tap = 0; planeStart += plane; }
                }
            }
        }
    }

    static readonly Vector512<int> EvenLanes = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);

    /// <summary>d[u] = row[ix0 + 2u] (0 outside the row) for u &lt; len: the even lanes of two loads per 16
    /// outputs where the 32 inputs lie inside the row (AVX-512), scalar at the edges and elsewhere.</summary>
    static void Stride2(float* row, int w, int ix0, int len, float* d)
    {
        int u = 0;
        for (; u < len && ix0 + 2 * u < 0; u++) d[u] = 0f;
        for (; Avx512F.IsSupported && u + 16 <= len && ix0 + 2 * u + 32 <= w; u += 16)
        {
            float* src = row + ix0 + 2 * u;
            Avx512F.PermuteVar16x32x2(Vector512.Load(src), EvenLanes, Vector512.Load(src + 16)).Store(d + u);
        }
        for (; u < len; u++)
        {
            int ix = ix0 + 2 * u;
            d[u] = (uint)ix < (uint)w ? row[ix] : 0f;
        }
    }
}
