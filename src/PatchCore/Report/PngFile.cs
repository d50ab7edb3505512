using StbImageWriteSharp;
using PatchCore.Pipeline;

namespace PatchCore.Report;

/// <summary>PNG output through StbImageWriteSharp, written atomically.</summary>
public static class PngFile
{
    /// <summary>Write 8-bit pixels, interleaved, 1 (gray) or 3 (RGB) channels.</summary>
    public static void Write(string path, int width, int height, int channels, byte[] pixels)
    {
        if (pixels.Length < width * height * channels) throw new ArgumentException("png: pixel buffer too small");
        var comps = channels switch
        {
            1 => ColorComponents.Grey,
            3 => ColorComponents.RedGreenBlue,
            4 => ColorComponents.RedGreenBlueAlpha,
            _ => throw new ArgumentException($"png: {channels} channels"),
        };
        AtomicFile.Write(path, s => new ImageWriter().WritePng(pixels, width, height, comps, s));
    }
}
