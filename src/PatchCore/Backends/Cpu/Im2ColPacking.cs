using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PatchCore.Backends.Cpu;

/// <summary>
/// Packs the GEMM's right-hand side straight from the NCHW input: rows k = (ci, ky, kx) of the im2col
/// matrix, columns = output pixels, laid out as panels [panel][k][NR] that the microkernel streams.
/// No full im2col matrix is ever built; padded cells and columns past the image are written as zeros.
/// Stride 1 copies contiguous runs of input rows (the common case, and the 1x1 convs are plain copies).
/// </summary>
internal static unsafe class Im2ColPacking
{
    const int NR = GemmKernel.NR;

    /// <param name="x">The image's first channel plane [Cin, H, W].</param>
    /// <param name="k0">First im2col row of the block; <paramref name="kc"/> rows.</param>
    /// <param name="j0">First output pixel; <paramref name="panels"/> panels of NR pixels.</param>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Pack(float* x, ConvSpec s, int h, int w, int ow, int p, int k0, int kc, int j0, int panels, float* dst)
    {
        int khw = s.KernelH * s.KernelW, stride = s.Stride;
        if (stride == 1 && w <= GatherMaxWidth && khw <= 49 && Avx2.IsSupported && !ForceRuns)
        {
            PackByGather(x, s, h, w, ow, p, k0, kc, j0, panels, dst);
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

    /// <summary>
    /// Rows at most this wide are packed by gathers: a 32-pixel panel then spans three or more image rows, so the
    /// run copies below cost several span calls per 32 values (most of a layer3 conv's packing at batch 1).
    /// </summary>
    const int GatherMaxWidth = 16;

    /// <summary>Tests flip this to pack small images with the run copies as well, to compare the two.</summary>
    internal static bool ForceRuns;

    /// <summary>
    /// Stride-1 packing by masked gathers: for each tap (ky, kx) the panel's 32 source offsets within a channel
    /// plane (−1 where the tap falls in the padding or the pixel is past the end) are computed once per panel;
    /// every im2col row is then four 8-lane gathers from its channel plane, masked lanes written as 0.
    /// </summary>
    static void PackByGather(float* x, ConvSpec s, int h, int w, int ow, int p, int k0, int kc, int j0, int panels, float* dst)
    {
        int khw = s.KernelH * s.KernelW;
        int* offsets = stackalloc int[khw * NR];
        for (int q = 0; q < panels; q++)
        {
            int jStart = j0 + q * NR;
            for (int r = 0; r < khw; r++)
            {
                int ky = r / s.KernelW, kx = r - ky * s.KernelW;
                for (int u = 0; u < NR; u++)
                {
                    int j = jStart + u, oy = j / ow, ox = j - oy * ow;
                    int iy = oy - s.PadTop + ky, ix = ox - s.PadLeft + kx;
                    offsets[r * NR + u] = j < p && (uint)iy < (uint)h && (uint)ix < (uint)w ? iy * w + ix : -1;
                }
            }
            int ci = k0 / khw, tap = k0 - ci * khw;
            float* d = dst + (long)q * kc * NR;
            var none = Vector256.Create(-1);
            for (int kk = 0; kk < kc; kk++, d += NR)
            {
                float* plane = x + (long)ci * h * w;
                int* o = offsets + tap * NR;
                for (int g = 0; g < NR; g += 8)
                {
                    var idx = Vector256.Load(o + g);
                    var mask = Avx2.CompareGreaterThan(idx, none).AsSingle();
                    Avx2.GatherMaskVector256(Vector256<float>.Zero, plane, idx, mask, 4).Store(d + g);
                }
                if (++tap == khw) { tap = 0; ci++; }
            }
        }
    }

    static readonly Vector512<int> EvenLanes = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);

    /// <summary>d[u] = row[ix0 + 2u] (0 outside the row) for u &lt; len: the even lanes of two loads per 16
    /// outputs where the 32 inputs lie inside the row (the stem and the stride-2 convs), scalar at the edges.</summary>
    static void Stride2(float* row, int w, int ix0, int len, float* d)
    {
        int u = 0;
        for (; u < len && ix0 + 2 * u < 0; u++) d[u] = 0f;
        for (; u + 16 <= len && ix0 + 2 * u + 32 <= w; u += 16)
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
