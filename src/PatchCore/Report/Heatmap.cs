using PatchCore.Data;
using PatchCore.IO;
using PatchCore.Scoring;

namespace PatchCore.Report;

/// <summary>One heat map to draw: the crop the model saw, its anomaly map (crop-sized), the colour scale and the
/// caption; optionally the ground truth, and the whole source image with the geometry of the crop.</summary>
public sealed record HeatmapPanel(RgbImage Crop, ReadOnlyMemory<float> Map, ScoreThreshold Scale, HeatmapCaption Caption)
{
    public bool[]? Truth { get; init; }
    public bool[]? Predicted { get; init; }
    /// <summary>The decoded source image and how the crop was taken from it: draw the whole image.</summary>
    public (RgbImage Image, ResizeSpec Resize)? Source { get; init; }
}

/// <summary>
/// One PNG per image. A caption on top: the file name, then the decision (ANOMALOUS in red, GOOD in green, or
/// nothing without a calibration), the raw image score and its normalised value. Below, left: the image (the
/// centre crop the model saw, or the whole image resized as the model resized it, with the crop framed); right:
/// the same with the anomaly map over it in a jet colour map, the ground-truth outline in white. At the right edge
/// a colour bar labelled with raw pixel scores: bottom = the lowest nominal pixel score, middle (marked) = the
/// pixel threshold, top = as far above the threshold as the bottom is below it (values above are clipped red).
/// The scale comes from the model's calibration, so the same image always gets the same colours.
/// </summary>
public static class Heatmap
{
    const int Gap = 4, Margin = 4, BarWidth = 14, TextScale = 2;
    static readonly (byte, byte, byte) Black = (0, 0, 0), Red = (200, 0, 0), Green = (0, 140, 0), Grey = (90, 90, 90);

    public static void Write(string path, HeatmapPanel panel)
    {
        var px = Render(panel, out int w, out int h);
        ImageFile.WritePng(path, w, h, 3, px);
    }

    /// <summary>The picture as RGB bytes [height, width, 3].</summary>
    public static byte[] Render(HeatmapPanel p, out int width, out int height)
    {
        int cw = p.Crop.Width, ch = p.Crop.Height;
        if (p.Map.Length != cw * ch) throw new ArgumentException($"heat map has {p.Map.Length} values, image is {cw}x{ch}");
        if (p.Truth != null && p.Truth.Length != cw * ch) throw new ArgumentException("mask size differs from the image");

        // The image panel: the crop itself, or the whole image resized as the model resized it (the crop inside).
        RgbImage view = p.Crop;
        int offX = 0, offY = 0;
        if (p.Source is { } src)
        {
            var (rw, rh) = Preprocessing.ResizedSize(src.Image.Width, src.Image.Height, src.Resize);
            (offX, offY) = Preprocessing.CropOrigin(rw, rh, src.Resize.Crop);
            view = new RgbImage(rw, rh, PilResize.Resize(src.Image.Pixels, src.Image.Width, src.Image.Height, 3, rw, rh));
        }
        int vw = view.Width, vh = view.Height;
        int lineH = BitmapFont.GlyphHeight * TextScale + 4;
        int header = Margin + BitmapFont.GlyphHeight + 4 + lineH;
        string top = Format(Raw(p.Scale, 1)), mid = Format(p.Scale.Threshold), bottom = Format(p.Scale.NominalMin);
        int labelW = Math.Max(BitmapFont.Measure(top), Math.Max(BitmapFont.Measure(mid + " <"), BitmapFont.Measure(bottom)));
        width = Margin + 2 * vw + Gap + Gap + BarWidth + 3 + labelW + Margin;
        height = header + vh + Margin;
        int w = width, h = height;
        var px = new byte[w * h * 3];
        Array.Fill(px, (byte)255);

        int x0 = Margin, x1 = Margin + vw + Gap, y0 = header;
        for (int y = 0; y < vh; y++)
            for (int x = 0; x < vw; x++)
            {
                int s = (y * vw + x) * 3;
                int left = ((y0 + y) * w + x0 + x) * 3, right = ((y0 + y) * w + x1 + x) * 3;
                byte r0 = view.Pixels[s], g0 = view.Pixels[s + 1], b0 = view.Pixels[s + 2];
                px[left] = r0; px[left + 1] = g0; px[left + 2] = b0;
                int cx = x - offX, cy = y - offY;
                bool inCrop = (uint)cx < (uint)cw && (uint)cy < (uint)ch;
                if (!inCrop)
                {
                    // Outside what the model saw: the image, dimmed, no colour.
                    px[right] = (byte)(r0 / 2 + 64); px[right + 1] = (byte)(g0 / 2 + 64); px[right + 2] = (byte)(b0 / 2 + 64);
                    continue;
                }
                int m = cy * cw + cx;
                if (p.Truth != null && IsEdge(p.Truth, cw, ch, cx, cy))
                {
                    px[right] = 255; px[right + 1] = 255; px[right + 2] = 255;
                    continue;
                }
                Jet((float)p.Scale.Normalize(p.Map.Span[m]), out byte r, out byte g, out byte b);
                px[right] = (byte)((r0 + r) / 2); px[right + 1] = (byte)((g0 + g) / 2); px[right + 2] = (byte)((b0 + b) / 2);
            }
        if (p.Source != null)
        {
            Frame(px, w, x0 + offX - 1, y0 + offY - 1, cw + 2, ch + 2, (255, 255, 0));
            Frame(px, w, x1 + offX - 1, y0 + offY - 1, cw + 2, ch + 2, (255, 255, 0));
        }

        // Colour bar: t = 1 at the top, 0 at the bottom; the threshold (t = 0.5) marked with a black line.
        int bx = x1 + vw + Gap;
        for (int y = 0; y < vh; y++)
        {
            float t = vh == 1 ? 1f : 1f - (float)y / (vh - 1);
            Jet(t, out byte r, out byte g, out byte b);
            for (int x = 0; x < BarWidth; x++)
            {
                int o = ((y0 + y) * w + bx + x) * 3;
                px[o] = r; px[o + 1] = g; px[o + 2] = b;
            }
        }
        int midY = y0 + (vh - 1) / 2;
        for (int x = -2; x < BarWidth + 2; x++)
        {
            int o = (midY * w + bx + x) * 3;
            px[o] = 0; px[o + 1] = 0; px[o + 2] = 0;
        }
        int lx = bx + BarWidth + 3;
        BitmapFont.Draw(px, w, h, lx, y0, top, Black);
        BitmapFont.Draw(px, w, h, lx, midY - BitmapFont.GlyphHeight / 2, mid + " <", Black);
        BitmapFont.Draw(px, w, h, lx, y0 + vh - BitmapFont.GlyphHeight, bottom, Black);

        // Caption: name on the first line (kept to the width, the end is what tells files apart), decision and score below.
        var c = p.Caption;
        int maxChars = Math.Max(4, (w - 2 * Margin) / BitmapFont.Advance);
        string name = c.Name.Length <= maxChars ? c.Name : ".." + c.Name[^(maxChars - 2)..];
        BitmapFont.Draw(px, w, h, Margin, Margin, name, Grey);
        int ty = Margin + BitmapFont.GlyphHeight + 4, tx = Margin;
        if (c.Anomalous is { } bad)
        {
            string word = bad ? "ANOMALOUS" : "GOOD";
            BitmapFont.Draw(px, w, h, tx, ty, word, bad ? Red : Green, TextScale);
            tx += BitmapFont.Measure(word, TextScale) + BitmapFont.Advance * TextScale;
        }
        string score = "SCORE " + Format(c.Score) + (c.NormalizedScore is { } ns ? $" ({ns:0.00})" : "");
        BitmapFont.Draw(px, w, h, tx, ty, score, Black, TextScale);
        return px;
    }

    /// <summary>Raw pixel score at normalised position t of the scale (inverse of <see cref="ScoreThreshold.Normalize"/>).</summary>
    static double Raw(ScoreThreshold s, double t) => s.Threshold + (t - 0.5) * 2 * (s.Threshold - s.NominalMin);

    static string Format(double v) =>
        Math.Abs(v) >= 1e5 || (Math.Abs(v) < 1e-2 && v != 0) ? v.ToString("0.00E+0", System.Globalization.CultureInfo.InvariantCulture)
        : v.ToString(Math.Abs(v) >= 100 ? "0.0" : "0.000", System.Globalization.CultureInfo.InvariantCulture);

    static void Frame(byte[] px, int w, int x, int y, int fw, int fh, (byte R, byte G, byte B) c)
    {
        int h = px.Length / 3 / w;
        for (int i = 0; i < fw; i++) { Put(px, w, h, x + i, y, c); Put(px, w, h, x + i, y + fh - 1, c); }
        for (int j = 0; j < fh; j++) { Put(px, w, h, x, y + j, c); Put(px, w, h, x + fw - 1, y + j, c); }
    }

    static void Put(byte[] px, int w, int h, int x, int y, (byte R, byte G, byte B) c)
    {
        if ((uint)x >= (uint)w || (uint)y >= (uint)h) return;
        int o = (y * w + x) * 3;
        px[o] = c.R; px[o + 1] = c.G; px[o + 2] = c.B;
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
