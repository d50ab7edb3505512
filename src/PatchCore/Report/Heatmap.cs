using PatchCore.IO;

namespace PatchCore.Report;

/// <summary>
/// One PNG per test image: the cropped input on the left; on the right the same image overlaid with its anomaly
/// map in a jet-like colour map (blue = normal, red = anomalous), and the ground-truth outline in white where a
/// mask exists. The colour scale is fixed for a whole category (lo..hi, e.g. min..max over all its test maps),
/// so colours compare across images.
/// </summary>
public static class Heatmap
{
    const int Gap = 4;

    /// <summary>The panel as RGB bytes; width = 2 * W + gap.</summary>
    public static byte[] Render(RgbImage crop, ReadOnlySpan<float> map, bool[]? mask, float lo, float hi, out int width, out int height)
    {
        int w = crop.Width, h = crop.Height;
        if (map.Length != w * h) throw new ArgumentException($"heat map has {map.Length} values, image is {w}x{h}");
        if (mask != null && mask.Length != w * h) throw new ArgumentException("mask size differs from the image");
        width = 2 * w + Gap;
        height = h;
        var px = new byte[width * height * 3];
        Array.Fill(px, (byte)255);
        float scale = hi > lo ? 1f / (hi - lo) : 0f;
        for (int y = 0; y < h; y++)
        {
            for (int x = 0; x < w; x++)
            {
                int s = (y * w + x) * 3;
                int left = (y * width + x) * 3;
                int right = (y * width + w + Gap + x) * 3;
                px[left] = crop.Pixels[s]; px[left + 1] = crop.Pixels[s + 1]; px[left + 2] = crop.Pixels[s + 2];
                float t = Math.Clamp((map[y * w + x] - lo) * scale, 0f, 1f);
                Jet(t, out byte r, out byte g, out byte b);
                if (mask != null && IsEdge(mask, w, h, x, y))
                {
                    px[right] = 255; px[right + 1] = 255; px[right + 2] = 255;
                }
                else
                {
                    px[right] = (byte)((crop.Pixels[s] + r) / 2);
                    px[right + 1] = (byte)((crop.Pixels[s + 1] + g) / 2);
                    px[right + 2] = (byte)((crop.Pixels[s + 2] + b) / 2);
                }
            }
        }
        return px;
    }

    public static void Write(string path, RgbImage crop, ReadOnlySpan<float> map, bool[]? mask, float lo, float hi)
    {
        var px = Render(crop, map, mask, lo, hi, out int w, out int h);
        ImageFile.WritePng(path, w, h, 3, px);
    }

    /// <summary>A mask pixel with a 4-neighbour outside the mask (or on the border).</summary>
    static bool IsEdge(bool[] mask, int w, int h, int x, int y)
    {
        if (!mask[y * w + x]) return false;
        return x == 0 || y == 0 || x == w - 1 || y == h - 1
            || !mask[y * w + x - 1] || !mask[y * w + x + 1] || !mask[(y - 1) * w + x] || !mask[(y + 1) * w + x];
    }

    /// <summary>Jet-like map: dark blue → blue → cyan → yellow → red → dark red, piecewise linear.</summary>
    public static void Jet(float t, out byte r, out byte g, out byte b)
    {
        float fr = Math.Clamp(1.5f - Math.Abs(4f * t - 3f), 0f, 1f);
        float fg = Math.Clamp(1.5f - Math.Abs(4f * t - 2f), 0f, 1f);
        float fb = Math.Clamp(1.5f - Math.Abs(4f * t - 1f), 0f, 1f);
        r = (byte)(fr * 255 + 0.5f); g = (byte)(fg * 255 + 0.5f); b = (byte)(fb * 255 + 0.5f);
    }
}
