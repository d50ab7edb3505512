namespace PatchCore.Data;

/// <summary>
/// Bilinear resize of 8-bit interleaved images, bit-exact with PIL's Image.resize(size, BILINEAR) (Pillow's
/// Resample.c, which torchvision's Resize calls on PIL images):
/// - separable: a horizontal pass into an 8-bit intermediate, then a vertical pass (a pass is skipped when
///   that side keeps its size);
/// - triangle filter whose support is scaled by the shrink factor (scale = in/out when shrinking, else 1),
///   so shrinking averages over ~2x scale input pixels (antialiasing) instead of sampling 2x2;
/// - output pixel i is centred at (i + 0.5) * scale in input coordinates; taps from
///   (int)(centre - support + 0.5) to (int)(centre + support + 0.5) clipped to the image, weights
///   filter((x - centre + 0.5) / filterscale) normalised to sum 1;
/// - weights converted to fixed point with 22 fractional bits, rounded half away from zero; the sum starts
///   at 2^21 (rounding) and is shifted right by 22 and clamped to 0..255.
/// </summary>
public static class PilResize
{
    const int PrecisionBits = 32 - 8 - 2;

    /// <summary>Resize <paramref name="src"/> (w x h x channels, interleaved) to outW x outH.</summary>
    public static byte[] Resize(ReadOnlySpan<byte> src, int w, int h, int channels, int outW, int outH)
    {
        if (w < 1 || h < 1 || outW < 1 || outH < 1) throw new ArgumentException($"cannot resize {w}x{h} to {outW}x{outH}");
        if (src.Length != (long)w * h * channels) throw new ArgumentException("image buffer size does not match its dimensions");
        // Both passes' buffers (outW x h, then outW x outH) must fit one array; checked in 64 bits, since the
        // int products below would wrap (an OverflowException deep in the pass) for e.g. a 100000 resize.
        if ((long)outW * Math.Max(h, outH) * channels > Array.MaxLength)
            throw new ArgumentException($"cannot resize {w}x{h} to {outW}x{outH}: the result would be too large");
        byte[] cur = src.ToArray();
        int curW = w;
        if (outW != w)
        {
            var (bounds, k, ksize) = Coefficients(w, outW);
            var dst = new byte[(long)outW * h * channels];
            for (int y = 0; y < h; y++)
            {
                int rowIn = y * w * channels, rowOut = y * outW * channels;
                for (int x = 0; x < outW; x++)
                {
                    int xmin = bounds[2 * x], xn = bounds[2 * x + 1];
                    for (int c = 0; c < channels; c++)
                    {
                        int ss = 1 << (PrecisionBits - 1);
                        for (int t = 0; t < xn; t++) ss += cur[rowIn + (xmin + t) * channels + c] * k[x * ksize + t];
                        dst[rowOut + x * channels + c] = Clip8(ss);
                    }
                }
            }
            cur = dst;
            curW = outW;
        }
        if (outH != h)
        {
            var (bounds, k, ksize) = Coefficients(h, outH);
            int stride = curW * channels;
            var dst = new byte[(long)curW * outH * channels];
            for (int y = 0; y < outH; y++)
            {
                int ymin = bounds[2 * y], yn = bounds[2 * y + 1];
                for (int i = 0; i < stride; i++)
                {
                    int ss = 1 << (PrecisionBits - 1);
                    for (int t = 0; t < yn; t++) ss += cur[(ymin + t) * stride + i] * k[y * ksize + t];
                    dst[y * stride + i] = Clip8(ss);
                }
            }
            cur = dst;
        }
        return cur;
    }

    static byte Clip8(int v) { v >>= PrecisionBits; return (byte)(v < 0 ? 0 : v > 255 ? 255 : v); }

    static double Triangle(double x) { if (x < 0) x = -x; return x < 1 ? 1 - x : 0; }

    /// <summary>Per output pixel: first input index and tap count (bounds), fixed-point weights (ksize per pixel).</summary>
    static (int[] Bounds, int[] K, int KSize) Coefficients(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize;
        double filterscale = scale < 1 ? 1 : scale;
        double support = 1.0 * filterscale;
        int ksize = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new int[outSize * 2];
        var k = new int[outSize * ksize];
        var w = new double[ksize];
        for (int xx = 0; xx < outSize; xx++)
        {
            double centre = (xx + 0.5) * scale;
            double ss = 1.0 / filterscale;
            int xmin = (int)(centre - support + 0.5);
            if (xmin < 0) xmin = 0;
            int xmax = (int)(centre + support + 0.5);
            if (xmax > inSize) xmax = inSize;
            xmax -= xmin;
            double ww = 0;
            for (int x = 0; x < xmax; x++)
            {
                w[x] = Triangle((x + xmin - centre + 0.5) * ss);
                ww += w[x];
            }
            for (int x = 0; x < xmax; x++)
            {
                double v = ww != 0 ? w[x] / ww : w[x];
                k[xx * ksize + x] = v < 0 ? (int)(-0.5 + v * (1 << PrecisionBits)) : (int)(0.5 + v * (1 << PrecisionBits));
            }
            bounds[2 * xx] = xmin;
            bounds[2 * xx + 1] = xmax;
        }
        return (bounds, k, ksize);
    }
}
