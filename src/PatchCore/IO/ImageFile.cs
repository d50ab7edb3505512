using StbImageSharp;
using StbImageWriteSharp;
using ReadComponents = StbImageSharp.ColorComponents;
using WriteComponents = StbImageWriteSharp.ColorComponents;

namespace PatchCore.IO;

/// <summary>The image codec, in one place: decode PNG/JPEG/BMP/TIFF to <see cref="RgbImage"/> (StbImageSharp) and
/// encode PNG (StbImageWriteSharp, written through <see cref="AtomicFile"/>).</summary>
public static class ImageFile
{
    /// <summary>Decode PNG/JPEG (8-bit gray, RGB, RGBA, 16-bit PNG) to RGB. One clear error naming the file.
    /// stb_image semantics: gray (and gray+alpha) is replicated to R=G=B, alpha is dropped (not composited,
    /// as PIL's convert("RGB")), 16-bit samples keep their high byte (v &gt;&gt; 8; PIL would clip 16-bit gray
    /// to 255 instead, MVTec has no 16-bit images).</summary>
    public static RgbImage Decode(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        return Decode(bytes, path);
    }

    /// <summary>Decode image bytes; <paramref name="name"/> is what errors call the image.</summary>
    public static RgbImage Decode(byte[] bytes, string name)
    {
        // TIFF and WebP are told by their magic bytes (stb_image reads neither).
        if (TiffDecoder.IsTiff(bytes)) { var (w, h, px) = TiffDecoder.Decode(bytes, name); return new RgbImage(w, h, px); }
        if (bytes.Length >= 12 && "RIFF"u8.SequenceEqual(bytes.AsSpan(0, 4)) && "WEBP"u8.SequenceEqual(bytes.AsSpan(8, 4)))
            throw new InvalidDataException($"{name}: WebP is not supported; convert to PNG");
        ImageSizeGuard.Check(bytes, name);
        ImageResult result;
        try
        {
            result = ImageResult.FromStream(new ClampedMemoryStream(bytes), ReadComponents.RedGreenBlue); // clamped: see its comment
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{name}: cannot decode image ({ErrorText.OneLine(e.Message)})", e);
        }
        if (result?.Data == null || result.Width < 1 || result.Height < 1 || result.Data.Length != (long)result.Width * result.Height * 3)
            throw new InvalidDataException($"{name}: cannot decode image (no pixel data)");
        return new RgbImage(result.Width, result.Height, result.Data);
    }

    /// <summary>Write 8-bit pixels as PNG, interleaved, 1 (gray), 3 (RGB) or 4 (RGBA) channels.</summary>
    public static void WritePng(string path, int width, int height, int channels, byte[] pixels, bool syncDirectory = true)
    {
        if (pixels.Length < width * height * channels) throw new ArgumentException("png: pixel buffer too small");
        var comps = channels switch
        {
            1 => WriteComponents.Grey,
            3 => WriteComponents.RedGreenBlue,
            4 => WriteComponents.RedGreenBlueAlpha,
            _ => throw new ArgumentException($"png: {channels} channels"),
        };
        AtomicFile.Write(path, s => new ImageWriter().WritePng(pixels, width, height, comps, s), syncDirectory);
    }
}
