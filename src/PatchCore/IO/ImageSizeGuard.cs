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
        CheckPngChunks(bytes, name);
        ImageInfo? info;
        try { info = ImageInfo.FromStream(new ClampedMemoryStream(bytes)); }
        catch (Exception e) when (e is not OutOfMemoryException) { return; } // the decoder reports it
        if (info is not { } i) return;
        long pixels = (long)i.Width * i.Height;
        if (i.Width < 1 || i.Height < 1 || pixels > MaxPixels || pixels > MaxPixelsPerFileByte * bytes.LongLength)
            throw new InvalidDataException($"{name}: image header declares {i.Width}x{i.Height} pixels, more than a {bytes.LongLength}-byte file can hold (or above {MaxPixels})");
    }

    /// <summary>stb_image grows its IDAT buffer to a chunk's declared length before reading it, so one flipped
    /// bit in a length field of a 200-byte PNG allocates 128 MB: every chunk must fit in the file.</summary>
    static void CheckPngChunks(byte[] b, string name)
    {
        ReadOnlySpan<byte> signature = [137, 80, 78, 71, 13, 10, 26, 10];
        if (b.Length < 8 || !b.AsSpan(0, 8).SequenceEqual(signature)) return;
        long at = 8;
        while (at + 8 <= b.Length)
        {
            long length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan((int)at, 4));
            if (length > b.Length - at - 12)
                throw new InvalidDataException($"{name}: cannot decode image (PNG chunk at byte {at} declares {length} bytes, past the end of the {b.Length}-byte file)");
            if (b.AsSpan((int)at + 4, 4).SequenceEqual("IEND"u8)) return;
            at += 12 + length;
        }
    }
}
