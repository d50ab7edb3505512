using PatchCore.IO;
using BitMiracle.LibTiff.Classic;
using PatchCore.Data;
using PatchCore.Tests.Data;
using StbImageWriteSharp;
using WriteComponents = StbImageWriteSharp.ColorComponents;

namespace PatchCore.Tests.Fuzz;

/// <summary>Mutated PNG, JPEG, BMP and TIFF files: a decoded image or one clean InvalidDataException naming it.</summary>
public class ImageDecoderFuzzTests
{
    const string Name = "fuzzed-image";

    static void Valid(RgbImage img)
    {
        Assert.True(img.Width >= 1 && img.Height >= 1);
        Assert.Equal((long)img.Width * img.Height * 3, img.Pixels.LongLength);
    }

    static byte[] Pattern(int w, int h, int channels) =>
        Enumerable.Range(0, w * h * channels).Select(i => (byte)(i * 37 % 251)).ToArray();

    static byte[] Stb(Action<ImageWriter, Stream> write)
    {
        var ms = new MemoryStream();
        write(new ImageWriter(), ms);
        return ms.ToArray();
    }

    static void Fuzz(string what, byte[] valid, int focus, int iterations)
    {
        var (parsed, refused) = ParserFuzz.Run(what, valid, focus, ParserFuzz.Iterations(iterations),
            bytes => ImageFile.Decode(bytes, Name), Valid, mustName: Name);
        Assert.True(refused > 0, $"{what}: no mutation was refused ({parsed} parsed): the fuzzing did not reach the decoder's checks");
    }

    [Fact]
    public void Png() =>
        Fuzz("png", Stb((w, s) => w.WritePng(Pattern(16, 12, 3), 16, 12, WriteComponents.RedGreenBlue, s)), 64, 600);

    [Fact]
    public void PngGrayAlpha() =>
        Fuzz("png gray+alpha", Stb((w, s) => w.WritePng(Pattern(9, 5, 2), 9, 5, WriteComponents.GreyAlpha, s)), 64, 300);

    [Fact]
    public void Jpeg() =>
        Fuzz("jpeg", Stb((w, s) => w.WriteJpg(Pattern(16, 16, 3), 16, 16, WriteComponents.RedGreenBlue, s, 90)), 1 << 20, 600);

    [Fact]
    public void Bmp() =>
        Fuzz("bmp", Stb((w, s) => w.WriteBmp(Pattern(13, 7, 3), 13, 7, WriteComponents.RedGreenBlue, s)), 54, 400);

    [Fact]
    public void TiffStrips() =>
        Fuzz("tiff strips", TiffTests.Write(new(13, 7, 3, 8, Photometric.RGB), (x, y, s) => x * 7 + y * 3 + s), 1 << 20, 600);

    [Fact]
    public void TiffTiledLzw16Bit() =>
        Fuzz("tiff tiled lzw 16-bit", TiffTests.Write(new(20, 18, 1, 16, Photometric.MINISBLACK) { Tiled = true, Compression = Compression.LZW },
            (x, y, s) => x * 3001 + y * 17), 1 << 20, 400);

    [Fact]
    public void TiffBigEndianDeflateAndPalette()
    {
        Fuzz("tiff big-endian deflate", TiffTests.Write(new(13, 7, 3, 16, Photometric.RGB) { BigEndian = true, Compression = Compression.DEFLATE },
            (x, y, s) => x * 4099 + y * 7 + s), 1 << 20, 300);
        var map = new ushort[3][];
        for (int c = 0; c < 3; c++) map[c] = Enumerable.Range(0, 16).Select(i => (ushort)(i * 4000 + c)).ToArray();
        Fuzz("tiff palette", TiffTests.Write(new(13, 7, 1, 4, Photometric.PALETTE) { ColorMap = map, Compression = Compression.PACKBITS },
            (x, y, s) => (x + y) % 16), 1 << 20, 300);
    }
}
