using SkiaSharp;

namespace PatchCore.ReportDocument.Plots;

/// <summary>
/// A heat map scaled down for the gallery (a run's heat maps are ~0.2 MB each at 522 px; the report embeds many).
/// The file is decoded by Skia; one that does not decode is reported by name.
/// </summary>
public static class HeatmapThumbnail
{
    public static byte[] Load(string path, int maxWidth)
    {
        using var bmp = SKBitmap.Decode(path) ?? throw new InvalidDataException($"{path}: not a readable image");
        if (bmp.Width <= maxWidth) return File.ReadAllBytes(path);
        int h = Math.Max(1, (int)Math.Round(bmp.Height * (double)maxWidth / bmp.Width));
        using var small = bmp.Resize(new SKImageInfo(maxWidth, h), new SKSamplingOptions(SKCubicResampler.Mitchell))
            ?? throw new InvalidDataException($"{path}: could not be resized");
        using var img = SKImage.FromBitmap(small);
        using var data = img.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
