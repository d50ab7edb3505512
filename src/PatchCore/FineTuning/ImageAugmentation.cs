namespace PatchCore.FineTuning;

/// <summary>
/// The augmentations of the contrastive task (SimCLR, Chen et al. 2020; CutMix, Yun et al. 2019) on one image's
/// NORMALISED planes [3, H, W] (what <see cref="NominalImage"/> holds and the backbone reads). Why on the normalised
/// planes rather than on RGB before normalisation: crop, flip and paste move pixels only, so they commute with the
/// per-channel affine normalisation and need no round trip; colour jitter is the one that must see RGB in [0, 1],
/// so it maps to RGB with the given mean/std, jitters and clamps there (as torchvision does), and maps back. The
/// trainer's preprocessing then stays the one the inference path uses, and the task needs no second image loader.
/// Every function draws only from the <see cref="Random"/> it is given (deterministic for a seed) and writes a new
/// buffer; settings that mean "no change" return the input values exactly.
/// </summary>
public static class ImageAugmentation
{
    /// <summary>ImageNet mean/std (torchvision's, the default backbone's) in RGB order.</summary>
    public static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];
    public static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];

    /// <summary>
    /// torchvision RandomResizedCrop's box: area share s ~ U(scaleMin, scaleMax), log(aspect w/h) ~
    /// U(log ratioMin, log ratioMax), up to 10 tries for a box that fits, else the central crop clamped to the
    /// ratio range. Returns (top, left, height, width) in pixels.
    /// </summary>
    public static (int Top, int Left, int Height, int Width) CropBox(int h, int w, double scaleMin, double scaleMax,
        double ratioMin, double ratioMax, Random rng)
    {
        double area = (double)h * w, logLo = Math.Log(ratioMin), logHi = Math.Log(ratioMax);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = area * (scaleMin + rng.NextDouble() * (scaleMax - scaleMin));
            double ratio = Math.Exp(logLo + rng.NextDouble() * (logHi - logLo));
            int cw = (int)Math.Round(Math.Sqrt(target * ratio)), ch = (int)Math.Round(Math.Sqrt(target / ratio));
            if (cw > 0 && ch > 0 && cw <= w && ch <= h)
                return (rng.Next(h - ch + 1), rng.Next(w - cw + 1), ch, cw);
        }
        double inRatio = (double)w / h;
        int fw = w, fh = h;
        if (inRatio < ratioMin) fh = (int)Math.Round(w / ratioMin);
        else if (inRatio > ratioMax) fw = (int)Math.Round(h * ratioMax);
        return ((h - fh) / 2, (w - fw) / 2, fh, fw);
    }

    /// <summary>
    /// The box (top, left, height, width) of <paramref name="src"/> [3, h, w] resized bilinearly (half-pixel
    /// centres, as align_corners=False) to h×w, optionally mirrored left–right, into <paramref name="dst"/>.
    /// The full box without flip copies the planes unchanged.
    /// </summary>
    public static void ResizedCrop(ReadOnlySpan<float> src, Span<float> dst, int h, int w,
        (int Top, int Left, int Height, int Width) box, bool flip)
    {
        int plane = h * w;
        if (src.Length != 3 * plane || dst.Length != 3 * plane) throw new ArgumentException($"planes of {src.Length}/{dst.Length} values, expected 3x{h}x{w}");
        bool full = box.Top == 0 && box.Left == 0 && box.Height == h && box.Width == w;
        double sy = (double)box.Height / h, sx = (double)box.Width / w;
        for (int c = 0; c < 3; c++)
        {
            var s = src.Slice(c * plane, plane);
            var d = dst.Slice(c * plane, plane);
            for (int y = 0; y < h; y++)
            {
                double fy = full ? y : Math.Clamp((y + 0.5) * sy - 0.5, 0, box.Height - 1);
                int y0 = (int)fy, y1 = Math.Min(y0 + 1, box.Height - 1);
                float wy = (float)(fy - y0);
                for (int x = 0; x < w; x++)
                {
                    int ox = flip ? w - 1 - x : x;
                    if (full) { d[y * w + ox] = s[y * w + x]; continue; }
                    double fx = Math.Clamp((x + 0.5) * sx - 0.5, 0, box.Width - 1);
                    int x0 = (int)fx, x1 = Math.Min(x0 + 1, box.Width - 1);
                    float wx = (float)(fx - x0);
                    int r0 = (box.Top + y0) * w + box.Left, r1 = (box.Top + y1) * w + box.Left;
                    float top = s[r0 + x0] + wx * (s[r0 + x1] - s[r0 + x0]);
                    float bottom = s[r1 + x0] + wx * (s[r1 + x1] - s[r1 + x0]);
                    d[y * w + ox] = top + wy * (bottom - top);
                }
            }
        }
    }

    /// <summary>
    /// Colour jitter in place on normalised planes [3, h, w]: brightness (x·b), contrast (blend with the mean grey
    /// level) and saturation (blend with each pixel's grey), each factor ~ U(max(0, 1 − s), 1 + s) as torchvision,
    /// applied in that fixed order on RGB clamped to [0, 1]. All three strengths 0: the planes are left untouched.
    /// </summary>
    public static void ColorJitter(Span<float> planes, int h, int w, double brightness, double contrast, double saturation,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> std, Random rng)
    {
        if (brightness == 0 && contrast == 0 && saturation == 0) return;
        int plane = h * w;
        if (planes.Length != 3 * plane) throw new ArgumentException($"planes of {planes.Length} values, expected 3x{h}x{w}");
        float Factor(double s) => s == 0 ? 1f : (float)(Math.Max(0, 1 - s) + rng.NextDouble() * (1 + s - Math.Max(0, 1 - s)));
        float b = Factor(brightness), k = Factor(contrast), sat = Factor(saturation);
        var r = planes[..plane]; var g = planes.Slice(plane, plane); var bl = planes.Slice(2 * plane, plane);
        double greySum = 0;
        for (int i = 0; i < plane; i++)
        {
            float R = Math.Clamp((r[i] * std[0] + mean[0]) * b, 0f, 1f);
            float G = Math.Clamp((g[i] * std[1] + mean[1]) * b, 0f, 1f);
            float B = Math.Clamp((bl[i] * std[2] + mean[2]) * b, 0f, 1f);
            r[i] = R; g[i] = G; bl[i] = B;   // RGB for now; back to normalised at the end
            greySum += Grey(R, G, B);
        }
        float greyMean = (float)(greySum / plane);
        for (int i = 0; i < plane; i++)
        {
            float R = Math.Clamp(k * r[i] + (1 - k) * greyMean, 0f, 1f);
            float G = Math.Clamp(k * g[i] + (1 - k) * greyMean, 0f, 1f);
            float B = Math.Clamp(k * bl[i] + (1 - k) * greyMean, 0f, 1f);
            float grey = Grey(R, G, B);
            r[i] = (Math.Clamp(sat * R + (1 - sat) * grey, 0f, 1f) - mean[0]) / std[0];
            g[i] = (Math.Clamp(sat * G + (1 - sat) * grey, 0f, 1f) - mean[1]) / std[1];
            bl[i] = (Math.Clamp(sat * B + (1 - sat) * grey, 0f, 1f) - mean[2]) / std[2];
        }
    }

    /// <summary>ITU-R 601 luma, as torchvision's rgb_to_grayscale.</summary>
    static float Grey(float r, float g, float b) => 0.299f * r + 0.587f * g + 0.114f * b;

    /// <summary>
    /// CutMix as a synthetic anomaly: a rectangle of area share ~ U(areaMin, areaMax) of the image (aspect w/h
    /// log-uniform in [1/2, 2]) taken from a random place in <paramref name="b"/> and pasted at a random place in
    /// a copy of <paramref name="a"/> (independent places, so the patch is out of context as a defect would be).
    /// Returns the pasted box in <paramref name="a"/>'s coordinates (height or width 0: nothing pasted, the
    /// output equals a).
    /// </summary>
    public static (int Top, int Left, int Height, int Width) CutMix(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> dst,
        int h, int w, double areaMin, double areaMax, Random rng)
    {
        int plane = h * w;
        if (a.Length != 3 * plane || b.Length != 3 * plane || dst.Length != 3 * plane)
            throw new ArgumentException($"CutMix planes must all be 3x{h}x{w}");
        a.CopyTo(dst);
        double share = areaMin + rng.NextDouble() * (areaMax - areaMin);
        double ratio = Math.Exp(Math.Log(0.5) + rng.NextDouble() * (Math.Log(2) - Math.Log(0.5)));
        int pw = Math.Min(w, (int)Math.Round(Math.Sqrt(share * plane * ratio)));
        int ph = Math.Min(h, (int)Math.Round(Math.Sqrt(share * plane / ratio)));
        if (pw == 0 || ph == 0) return (0, 0, 0, 0);
        int ty = rng.Next(h - ph + 1), tx = rng.Next(w - pw + 1), sy = rng.Next(h - ph + 1), sx = rng.Next(w - pw + 1);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < ph; y++)
                b.Slice(c * plane + (sy + y) * w + sx, pw).CopyTo(dst.Slice(c * plane + (ty + y) * w + tx, pw));
        return (ty, tx, ph, pw);
    }
}
