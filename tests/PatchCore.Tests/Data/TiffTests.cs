using BitMiracle.LibTiff.Classic;
using PatchCore.Data;
using PatchCore.IO;
using StbImageWriteSharp;
using WriteComponents = StbImageWriteSharp.ColorComponents;

namespace PatchCore.Tests.Data;

/// <summary>TIFF input (issue 12 item 6): files written here with LibTiff.NET, decoded pixels checked exactly.</summary>
public class TiffTests
{
    /// <summary>How a test TIFF is laid out.</summary>
    public sealed record Layout(int Width, int Height, int Samples, int Bits, Photometric Photometric)
    {
        public bool Tiled { get; init; }
        public bool BigEndian { get; init; }
        public Compression Compression { get; init; } = Compression.NONE;
        public PlanarConfig Planar { get; init; } = PlanarConfig.CONTIG;
        public ushort[][]? ColorMap { get; init; }
    }

    /// <summary>A TIFF of <paramref name="sample"/>(x, y, s) values; 16-bit samples are written in host order
    /// (LibTiff swaps them for a big-endian file). Sub-byte samples are packed MSB first.</summary>
    public static byte[] Write(Layout l, Func<int, int, int, int> sample)
    {
        var ms = new MemoryStream();
        using (var tif = Tiff.ClientOpen("test.tif", l.BigEndian ? "wb" : "wl", ms, new TiffStream())!)
        {
            tif.SetField(TiffTag.IMAGEWIDTH, l.Width);
            tif.SetField(TiffTag.IMAGELENGTH, l.Height);
            tif.SetField(TiffTag.SAMPLESPERPIXEL, l.Samples);
            tif.SetField(TiffTag.BITSPERSAMPLE, l.Bits);
            tif.SetField(TiffTag.PHOTOMETRIC, l.Photometric);
            tif.SetField(TiffTag.PLANARCONFIG, l.Planar);
            tif.SetField(TiffTag.COMPRESSION, l.Compression);
            if (l.Photometric == Photometric.RGB && l.Samples == 4) tif.SetField(TiffTag.EXTRASAMPLES, 1, new short[] { (short)ExtraSample.UNASSALPHA });
            if (l.Photometric is Photometric.MINISBLACK or Photometric.MINISWHITE && l.Samples == 2) tif.SetField(TiffTag.EXTRASAMPLES, 1, new short[] { (short)ExtraSample.UNASSALPHA });
            if (l.ColorMap != null) tif.SetField(TiffTag.COLORMAP, l.ColorMap[0], l.ColorMap[1], l.ColorMap[2]);
            bool separate = l.Planar == PlanarConfig.SEPARATE;
            int planes = separate ? l.Samples : 1, perPixel = separate ? 1 : l.Samples;
            if (l.Tiled)
            {
                const int t = 16;
                tif.SetField(TiffTag.TILEWIDTH, t);
                tif.SetField(TiffTag.TILELENGTH, t);
                for (int p = 0; p < planes; p++)
                    for (int ty = 0; ty < l.Height; ty += t)
                        for (int tx = 0; tx < l.Width; tx += t)
                        {
                            var buf = new byte[tif.TileSize()];
                            for (int r = 0; r < t; r++)
                                Pack(buf.AsSpan(r * tif.TileRowSize()), t, perPixel, l.Bits,
                                    (x, s) => tx + x < l.Width && ty + r < l.Height ? sample(tx + x, ty + r, separate ? p : s) : 0);
                            Assert.True(tif.WriteTile(buf, tx, ty, 0, (short)p) > 0);
                        }
            }
            else
            {
                tif.SetField(TiffTag.ROWSPERSTRIP, 2);
                for (int p = 0; p < planes; p++)
                    for (int y = 0; y < l.Height; y++)
                    {
                        var buf = new byte[tif.ScanlineSize()];
                        Pack(buf, l.Width, perPixel, l.Bits, (x, s) => sample(x, y, separate ? p : s));
                        Assert.True(tif.WriteScanline(buf, y, (short)p));
                    }
            }
        }
        return ms.ToArray();
    }

    static void Pack(Span<byte> row, int count, int perPixel, int bits, Func<int, int, int> sample)
    {
        for (int x = 0; x < count; x++)
            for (int s = 0; s < perPixel; s++)
            {
                int k = x * perPixel + s, v = sample(x, s);
                if (bits == 8) row[k] = (byte)v;
                else if (bits == 16) BitConverter.TryWriteBytes(row.Slice(2 * k, 2), (ushort)v);
                else row[k * bits / 8] |= (byte)(v << (8 - bits - k * bits % 8));
            }
    }

    static int V8(int x, int y, int s) => (x * 37 + y * 91 + s * 53) % 256;
    static int V16(int x, int y, int s) => (x * 4099 + y * 7919 + s * 21011 + 17) % 65536;

    static void AssertPixels(RgbImage img, int w, int h, Func<int, int, int, int> expected)
    {
        Assert.Equal((w, h), (img.Width, img.Height));
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                {
                    int got = img.Pixels[(y * w + x) * 3 + c], want = expected(x, y, c);
                    if (got != want) Assert.Fail($"pixel ({x},{y}) channel {c}: {got}, expected {want}");
                }
    }

    [Fact]
    public void Gray8BitIsReplicatedToThreeChannels()
    {
        var img = ImageFile.Decode(Write(new(13, 7, 1, 8, Photometric.MINISBLACK), V8), "g8.tif");
        AssertPixels(img, 13, 7, (x, y, c) => V8(x, y, 0));
    }

    [Fact]
    public void Rgb8BitIsExact()
    {
        var img = ImageFile.Decode(Write(new(13, 7, 3, 8, Photometric.RGB), V8), "rgb8.tif");
        AssertPixels(img, 13, 7, V8);
    }

    [Fact]
    public void Gray16BitKeepsTheHighByte()
    {
        var img = ImageFile.Decode(Write(new(13, 7, 1, 16, Photometric.MINISBLACK), V16), "g16.tif");
        AssertPixels(img, 13, 7, (x, y, c) => V16(x, y, 0) >> 8);
    }

    [Fact]
    public void Rgb16BitKeepsTheHighByteInEitherByteOrder()
    {
        foreach (bool bigEndian in new[] { false, true })
        {
            var bytes = Write(new(13, 7, 3, 16, Photometric.RGB) { BigEndian = bigEndian }, V16);
            Assert.Equal(bigEndian ? (byte)'M' : (byte)'I', bytes[0]);
            AssertPixels(ImageFile.Decode(bytes, "rgb16.tif"), 13, 7, (x, y, c) => V16(x, y, c) >> 8);
        }
    }

    [Fact]
    public void TiledCompressedImagesWithPartialEdgeTilesAreExact()
    {
        // 37x21 with 16x16 tiles: the right and bottom tiles are partly outside the image.
        foreach (var comp in new[] { Compression.NONE, Compression.LZW, Compression.DEFLATE, Compression.PACKBITS })
        {
            var rgb = ImageFile.Decode(Write(new(37, 21, 3, 8, Photometric.RGB) { Tiled = true, Compression = comp }, V8), "t.tif");
            AssertPixels(rgb, 37, 21, V8);
            var g16 = ImageFile.Decode(Write(new(37, 21, 1, 16, Photometric.MINISBLACK) { Tiled = true, Compression = comp }, V16), "t16.tif");
            AssertPixels(g16, 37, 21, (x, y, c) => V16(x, y, 0) >> 8);
        }
    }

    [Fact]
    public void CompressedStripsAndSeparatePlanesAreExact()
    {
        var lzw = ImageFile.Decode(Write(new(13, 7, 3, 8, Photometric.RGB) { Compression = Compression.LZW }, V8), "lzw.tif");
        AssertPixels(lzw, 13, 7, V8);
        var planar = ImageFile.Decode(Write(new(13, 7, 3, 8, Photometric.RGB) { Planar = PlanarConfig.SEPARATE }, V8), "planar.tif");
        AssertPixels(planar, 13, 7, V8);
        var planarTiles = ImageFile.Decode(Write(new(37, 21, 3, 16, Photometric.RGB) { Planar = PlanarConfig.SEPARATE, Tiled = true }, V16), "pt.tif");
        AssertPixels(planarTiles, 37, 21, (x, y, c) => V16(x, y, c) >> 8);
    }

    [Fact]
    public void AlphaIsDroppedNotComposited()
    {
        // Alpha 0 everywhere: compositing would make the picture black; dropping keeps the colours (as for PNG).
        var rgba = ImageFile.Decode(Write(new(13, 7, 4, 8, Photometric.RGB), (x, y, s) => s == 3 ? 0 : V8(x, y, s)), "rgba.tif");
        AssertPixels(rgba, 13, 7, V8);
        var ga = ImageFile.Decode(Write(new(13, 7, 2, 16, Photometric.MINISBLACK), (x, y, s) => s == 1 ? 0 : V16(x, y, 0)), "ga.tif");
        AssertPixels(ga, 13, 7, (x, y, c) => V16(x, y, 0) >> 8);
    }

    [Fact]
    public void MinIsWhiteIsInvertedAndLowBitGrayIsScaled()
    {
        var white = ImageFile.Decode(Write(new(13, 7, 1, 8, Photometric.MINISWHITE), V8), "w.tif");
        AssertPixels(white, 13, 7, (x, y, c) => 255 - V8(x, y, 0));
        var g4 = ImageFile.Decode(Write(new(13, 7, 1, 4, Photometric.MINISBLACK), (x, y, s) => (x + y) % 16), "g4.tif");
        AssertPixels(g4, 13, 7, (x, y, c) => (x + y) % 16 * 17);
        var g1 = ImageFile.Decode(Write(new(13, 7, 1, 1, Photometric.MINISBLACK), (x, y, s) => (x ^ y) & 1), "g1.tif");
        AssertPixels(g1, 13, 7, (x, y, c) => ((x ^ y) & 1) * 255);
    }

    [Fact]
    public void PaletteEntriesKeepTheirHighByte()
    {
        foreach (int bits in new[] { 4, 8 })
        {
            int n = 1 << bits;
            var map = new ushort[3][];
            for (int c = 0; c < 3; c++) map[c] = Enumerable.Range(0, n).Select(i => (ushort)((i * 97 + c * 31) % 256 * 257 + c)).ToArray();
            var img = ImageFile.Decode(Write(new(13, 7, 1, bits, Photometric.PALETTE) { ColorMap = map }, (x, y, s) => (x * 3 + y) % n), "p.tif");
            AssertPixels(img, 13, 7, (x, y, c) => map[c][(x * 3 + y) % n] >> 8);
        }
    }

    [Fact]
    public void PngAndTiffOfTheSamePixelsGiveTheSameInputTensor()
    {
        const int w = 300, h = 260; // not square and larger than the crop, so resize and crop both act
        var px = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++) px[(y * w + x) * 3 + c] = (byte)V8(x, y, c);
        var png = new MemoryStream();
        new ImageWriter().WritePng(px, w, h, WriteComponents.RedGreenBlue, png);
        var fromPng = ImageFile.Decode(png.ToArray(), "a.png");
        var fromTiff = ImageFile.Decode(Write(new(w, h, 3, 8, Photometric.RGB) { Compression = Compression.LZW }, V8), "a.tif");
        Assert.Equal(fromPng.Pixels, fromTiff.Pixels);
        var norm = new Normalization("BGR", 1f, [103.9f, 116.8f, 123.7f], [1f, 1f, 1f]);
        var spec = new ResizeSpec();
        Assert.Equal(Preprocessing.ToInput(fromPng, spec, norm), Preprocessing.ToInput(fromTiff, spec, norm));
    }

    [Fact]
    public void TiffFilesAreFoundByExtensionAndDecodedFromDisk()
    {
        string dir = TestPaths.TempDir();
        File.WriteAllBytes(Path.Combine(dir, "a.tif"), Write(new(13, 7, 3, 8, Photometric.RGB), V8));
        File.WriteAllBytes(Path.Combine(dir, "b.TIFF"), Write(new(13, 7, 1, 16, Photometric.MINISBLACK), V16));
        File.WriteAllText(Path.Combine(dir, "c.txt"), "not an image");
        var listed = MvtecDataset.ListImages(dir);
        Assert.Equal(new[] { "a.tif", "b.TIFF" }, listed.Select(f => Path.GetFileName(f)).ToArray());
        AssertPixels(ImageFile.Decode(listed[0]), 13, 7, V8);
    }

    [Fact]
    public void WebPIsRejectedByName()
    {
        byte[] webp = [.. "RIFF"u8, 30, 0, 0, 0, .. "WEBPVP8 "u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        var e = Assert.Throws<InvalidDataException>(() => ImageFile.Decode(webp, "shot.webp"));
        Assert.Equal("shot.webp: WebP is not supported; convert to PNG", e.Message);
    }

    [Fact]
    public void CorruptTiffIsOneCleanErrorNamingTheFile()
    {
        var bytes = Write(new(13, 7, 3, 8, Photometric.RGB), V8);
        var e = Assert.Throws<InvalidDataException>(() => ImageFile.Decode(bytes[..40], "cut.tif"));
        Assert.StartsWith("cut.tif: cannot decode TIFF", e.Message);
        Assert.DoesNotContain('\0', e.Message);
        e = Assert.Throws<InvalidDataException>(() => ImageFile.Decode("II*\0"u8.ToArray(), "head.tif"));
        Assert.StartsWith("head.tif: cannot decode TIFF", e.Message);
    }

    [Fact]
    public void DeclaredSizeBeyondWhatTheFileCanHoldIsRefusedBeforeAllocating()
    {
        // 60000 x 60000 RGB, compressed: within no limit of the container, but 3.6 G pixels from a tiny file.
        var big = ImageFile.Decode(Write(new(64, 64, 3, 8, Photometric.RGB) { Compression = Compression.DEFLATE }, (x, y, s) => 0), "z.tif");
        Assert.Equal(64, big.Width);
        var bytes = Write(new(64, 64, 3, 8, Photometric.RGB) { Compression = Compression.DEFLATE }, (x, y, s) => 0);
        PatchDimension(bytes, 256, 60000);
        PatchDimension(bytes, 257, 60000);
        var e = Assert.Throws<InvalidDataException>(() => TiffDecoder.Decode(bytes, "bomb.tif"));
        Assert.Contains("bomb.tif", e.Message);
        Assert.Contains("60000x60000", e.Message);
        // Within the pixel limit but far beyond what the compressed file can expand to.
        PatchDimension(bytes, 256, 9000);
        PatchDimension(bytes, 257, 9000);
        e = Assert.Throws<InvalidDataException>(() => TiffDecoder.Decode(bytes, "bomb.tif"));
        Assert.Contains("more than a", e.Message);
    }

    /// <summary>Rewrite the value of a SHORT or LONG tag in the first directory of a little-endian TIFF.</summary>
    internal static void PatchDimension(byte[] tiff, int tag, int value)
    {
        int ifd = BitConverter.ToInt32(tiff, 4);
        int count = BitConverter.ToUInt16(tiff, ifd);
        for (int i = 0; i < count; i++)
        {
            int e = ifd + 2 + 12 * i;
            if (BitConverter.ToUInt16(tiff, e) != tag) continue;
            int type = BitConverter.ToUInt16(tiff, e + 2);
            if (type == 3) BitConverter.TryWriteBytes(tiff.AsSpan(e + 8, 2), (ushort)value);
            else BitConverter.TryWriteBytes(tiff.AsSpan(e + 8, 4), value);
            return;
        }
        throw new InvalidOperationException($"tag {tag} not found");
    }
}
