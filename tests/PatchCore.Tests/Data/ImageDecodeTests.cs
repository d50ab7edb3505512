using System.Buffers.Binary;
using System.IO.Compression;
using PatchCore.Data;
using StbImageWriteSharp;
using WriteComponents = StbImageWriteSharp.ColorComponents;
using PatchCore.IO;

namespace PatchCore.Tests.Data;

public class ImageDecodeTests
{
    static readonly string Dir = TestPaths.TempDir();
    const int W = 5, H = 3;

    static string Save(string name, Action<Stream> write)
    {
        string p = Path.Combine(Dir, name);
        using (var fs = File.Create(p)) write(fs);
        return p;
    }

    static byte[] Pattern(int channels) =>
        Enumerable.Range(0, W * H * channels).Select(i => (byte)(i * 37 % 251)).ToArray();

    [Fact]
    public void Png8BitGrayBecomesThreeEqualChannels()
    {
        var px = Pattern(1);
        var img = ImageFile.Decode(Save("g.png", s => new ImageWriter().WritePng(px, W, H, WriteComponents.Grey, s)));
        Assert.Equal((W, H), (img.Width, img.Height));
        for (int i = 0; i < W * H; i++)
            Assert.Equal([px[i], px[i], px[i]], img.Pixels[(i * 3)..(i * 3 + 3)]);
    }

    [Fact]
    public void Png8BitGrayAlphaDropsAlpha()
    {
        var px = Pattern(2);
        var img = ImageFile.Decode(Save("ga.png", s => new ImageWriter().WritePng(px, W, H, WriteComponents.GreyAlpha, s)));
        for (int i = 0; i < W * H; i++)
            Assert.Equal([px[2 * i], px[2 * i], px[2 * i]], img.Pixels[(i * 3)..(i * 3 + 3)]);
    }

    [Fact]
    public void Png8BitRgbIsExact()
    {
        var px = Pattern(3);
        var img = ImageFile.Decode(Save("rgb.png", s => new ImageWriter().WritePng(px, W, H, WriteComponents.RedGreenBlue, s)));
        Assert.Equal(px, img.Pixels);
    }

    [Fact]
    public void Png8BitRgbaDropsAlpha()
    {
        var px = Pattern(4);
        var img = ImageFile.Decode(Save("rgba.png", s => new ImageWriter().WritePng(px, W, H, WriteComponents.RedGreenBlueAlpha, s)));
        for (int i = 0; i < W * H; i++)
            Assert.Equal(px[(i * 4)..(i * 4 + 3)], img.Pixels[(i * 3)..(i * 3 + 3)]);
    }

    [Fact]
    public void JpegDecodesCloseToTheSource()
    {
        // Smooth colours survive JPEG almost unchanged; compare loosely, and the channel order must be right.
        const int n = 16;
        var px = new byte[n * n * 3];
        for (int i = 0; i < n * n; i++) { px[3 * i] = 200; px[3 * i + 1] = 100; px[3 * i + 2] = 30; }
        var img = ImageFile.Decode(Save("c.jpg", s => new ImageWriter().WriteJpg(px, n, n, WriteComponents.RedGreenBlue, s, 95)));
        Assert.Equal((n, n), (img.Width, img.Height));
        for (int i = 0; i < px.Length; i++) Assert.InRange(Math.Abs(img.Pixels[i] - px[i]), 0, 4);
    }

    [Fact]
    public void Png16BitGrayAndRgbKeepTheHighByte()
    {
        ushort[] gray = Enumerable.Range(0, W * H).Select(i => (ushort)(i * 4099 + 17)).ToArray();
        var g = ImageFile.Decode(Save("g16.png", s => s.Write(Png16(gray, 1))));
        for (int i = 0; i < W * H; i++) Assert.Equal(Enumerable.Repeat((byte)(gray[i] >> 8), 3), g.Pixels[(i * 3)..(i * 3 + 3)]);

        ushort[] rgb = Enumerable.Range(0, W * H * 3).Select(i => (ushort)(i * 1301 + 255)).ToArray();
        var c = ImageFile.Decode(Save("rgb16.png", s => s.Write(Png16(rgb, 3))));
        Assert.Equal(rgb.Select(v => (byte)(v >> 8)), c.Pixels);
    }

    [Fact]
    public void CorruptOrMissingImageNamesTheFile()
    {
        var png = new MemoryStream();
        new ImageWriter().WritePng(Pattern(3), W, H, WriteComponents.RedGreenBlue, png);
        var bytes = png.ToArray();
        string truncated = Save("truncated.png", s => s.Write(bytes, 0, 40));
        var e = Assert.Throws<InvalidDataException>(() => ImageFile.Decode(truncated));
        Assert.Contains(truncated, e.Message);
        string garbage = Save("garbage.png", s => s.Write("this is not an image"u8));
        e = Assert.Throws<InvalidDataException>(() => ImageFile.Decode(garbage));
        Assert.Contains(garbage, e.Message);
        Assert.Throws<FileNotFoundException>(() => ImageFile.Decode(Path.Combine(Dir, "absent.png")));
    }

    /// <summary>A 16-bit PNG (colour type 0 gray or 2 RGB) built by hand: IHDR, one zlib IDAT, IEND.</summary>
    static byte[] Png16(ushort[] samples, int channels)
    {
        var raw = new MemoryStream();
        for (int y = 0; y < H; y++)
        {
            raw.WriteByte(0); // filter: none
            for (int i = 0; i < W * channels; i++)
            {
                ushort v = samples[y * W * channels + i];
                raw.WriteByte((byte)(v >> 8));
                raw.WriteByte((byte)v);
            }
        }
        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true)) raw.WriteTo(zs);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, W);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), H);
        ihdr[8] = 16;
        ihdr[9] = (byte)(channels == 1 ? 0 : 2);
        var png = new MemoryStream();
        png.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", z.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    static void Chunk(Stream s, string type, byte[] data)
    {
        var len = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var body = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(body);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(body));
        s.Write(crc);
    }

    /// <summary>CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) as PNG chunks use it.</summary>
    static uint Crc32(byte[] data)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return c ^ 0xFFFFFFFF;
    }
}
