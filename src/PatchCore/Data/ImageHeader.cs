using PatchCore.IO;

namespace PatchCore.Data;

/// <summary>
/// Width and height of an image file from its header, without decoding the pixels: lets the dataset check
/// every mask against its image and warn about tiny images when it is listed, before any compute, at the cost
/// of reading a few bytes per file. PNG (IHDR), BMP, TGA and JPEG (first SOF marker) are read directly; any
/// other format (or a header we cannot read) falls back to a full decode. Null when even that fails: the
/// file's real decode, later, reports the problem with its name.
/// </summary>
public static class ImageHeader
{
    /// <summary>Bytes read for the direct formats; a JPEG whose SOF comes later (big EXIF/ICC segments) is decoded.</summary>
    const int HeadBytes = 4096;

    public static (int Width, int Height)? TryRead(string path)
    {
        try
        {
            byte[] head;
            using (var fs = File.OpenRead(path))
            {
                head = new byte[(int)Math.Min(HeadBytes, fs.Length)];
                fs.ReadExactly(head);
            }
            var size = FromBytes(head);
            if (size != null) return size;
            var img = ImageFile.Decode(path);
            return (img.Width, img.Height);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The size from the first bytes of a PNG, BMP, TGA or JPEG file; null when not one of these or cut short.</summary>
    public static (int Width, int Height)? FromBytes(ReadOnlySpan<byte> b)
    {
        if (b.Length >= 24 && b[0] == 0x89 && b[1] == (byte)'P' && b[2] == (byte)'N' && b[3] == (byte)'G'
            && b[12] == (byte)'I' && b[13] == (byte)'H' && b[14] == (byte)'D' && b[15] == (byte)'R')
            return Positive(BigEndian(b[16..]), BigEndian(b[20..]));
        if (b.Length >= 26 && b[0] == (byte)'B' && b[1] == (byte)'M')
            return Positive(LittleEndian(b[18..]), Math.Abs(LittleEndian(b[22..]))); // negative height = top-down rows
        if (b.Length >= 4 && b[0] == 0xFF && b[1] == 0xD8) return Jpeg(b);
        return null; // TGA has no signature: left to the decoder, like every other format
    }

    static (int, int)? Jpeg(ReadOnlySpan<byte> b)
    {
        int i = 2;
        while (i + 4 <= b.Length)
        {
            if (b[i] != 0xFF) return null;
            byte marker = b[i + 1];
            if (marker == 0xFF) { i++; continue; } // fill byte
            if (marker is 0xD8 or 0x01 || marker is >= 0xD0 and <= 0xD7) { i += 2; continue; } // no length
            int len = (b[i + 2] << 8) | b[i + 3];
            // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): [len][precision][height][width].
            if (marker is >= 0xC0 and <= 0xCF && marker is not (0xC4 or 0xC8 or 0xCC))
                return i + 9 <= b.Length ? Positive((b[i + 7] << 8) | b[i + 8], (b[i + 5] << 8) | b[i + 6]) : null;
            if (len < 2) return null;
            i += 2 + len;
        }
        return null;
    }

    static (int, int)? Positive(int w, int h) => w > 0 && h > 0 ? (w, h) : null;
    static int BigEndian(ReadOnlySpan<byte> b) => (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    static int LittleEndian(ReadOnlySpan<byte> b) => b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24);
}
