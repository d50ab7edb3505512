using StbImageSharp;

namespace PatchCore.IO;

/// <summary>
/// Refuses an image whose header declares more pixels than its file can hold, before a decoder allocates for
/// them. stb_image allocates the whole output from the header and then decodes from zeros past a truncated
/// end, so a 300-byte BMP or JPEG declaring 30000 x 20000 would take gigabytes and minutes. Bounds:
/// <list type="bullet">
/// <item><see cref="MaxPixels"/>: PIL's decompression-bomb limit (2 x Image.MAX_IMAGE_PIXELS);</item>
/// <item><see cref="MaxPixelsPerFileByte"/> pixels per file byte: no format we read packs more (1-bit PNG
/// after Deflate's 1032:1 is 8256; JPEG needs at least 2 bits per 8x8 block and component, BMP 1 bit per
/// pixel), so a real file always passes.</item>
/// </list>
/// </summary>
public static class ImageSizeGuard
{
    public const long MaxPixels = 178_956_970;
    public const long MaxPixelsPerFileByte = 8 * 1032;

    /// <summary>Throws an InvalidDataException naming <paramref name="name"/> when the declared size is implausible;
    /// formats stb_image cannot identify are left to the decoder's own error.</summary>
    public static void Check(byte[] bytes, string name)
    {
        ImageInfo? info;
        try { info = ImageInfo.FromStream(new ClampedMemoryStream(bytes)); }
        catch (Exception e) when (e is not OutOfMemoryException) { return; } // the decoder reports it
        if (info is not { } i) return;
        long pixels = (long)i.Width * i.Height;
        if (i.Width < 1 || i.Height < 1 || pixels > MaxPixels || pixels > MaxPixelsPerFileByte * bytes.LongLength)
            throw new InvalidDataException($"{name}: image header declares {i.Width}x{i.Height} pixels, more than a {bytes.LongLength}-byte file can hold (or above {MaxPixels})");
    }
}
