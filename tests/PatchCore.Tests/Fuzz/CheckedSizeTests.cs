using PatchCore.IO;
using System.Buffers.Binary;
using System.Text;
using PatchCore.Tensors;
using PatchCore.Tests.Weights;
using PatchCore.Weights;
using PatchCore.Weights.Onnx;

namespace PatchCore.Tests.Fuzz;

/// <summary>Shape products from files are checked, never wrapped (issue 12 item 7).</summary>
public class CheckedSizeTests
{
    [Fact]
    public void ShapeLengthRefusesAProductBeyondLongAndNamesTheShape()
    {
        // 2^31-1 cubed wraps a long to a small positive number; it must be refused instead.
        var e = Assert.Throws<InvalidDataException>(() => Tensor.ShapeLength([int.MaxValue, int.MaxValue, int.MaxValue]));
        Assert.Contains("[2147483647,2147483647,2147483647]", e.Message);
        Assert.Equal((long)int.MaxValue * int.MaxValue, Tensor.ShapeLength([int.MaxValue, int.MaxValue]));
        Assert.Equal(0, Tensor.ShapeLength([int.MaxValue, int.MaxValue, int.MaxValue, 0])); // empty, not an overflow
        Assert.Equal(24, Tensor.ShapeLength([2, 3, 4]));
        Assert.Equal(1, Tensor.ShapeLength([]));
        Assert.Throws<ArgumentException>(() => Tensor.ShapeLength([2, -1]));
    }

    [Fact]
    public void ArrayLengthRefusesShapesOneArrayCannotHold()
    {
        Assert.Equal(6, Tensor.ArrayLength([2, 3]));
        var e = Assert.Throws<InvalidDataException>(() => Tensor.ArrayLength([65536, 65536]));
        Assert.Contains("[65536,65536]", e.Message);
        Assert.Throws<InvalidDataException>(() => new Tensor(65536, 65536));
    }

    static string Safetensors(string json, int dataBytes)
    {
        string path = Path.Combine(TestPaths.TempDir(), "s.safetensors");
        var header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, header.Length);
        header.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void SafetensorsShapeWhoseByteCountWrapsIsRefused()
    {
        // [2^31-1]^3 x 4 bytes wrapped to a count that could match a small span before; now a clean error.
        string path = Safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[0,4]}}", 4);
        var e = Assert.Throws<InvalidDataException>(() => PatchCore.Weights.Safetensors.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("too large", e.Message);
        // 2^62 elements x 8 bytes (F64) overflows the byte count too.
        path = Safetensors("{\"a\":{\"dtype\":\"F64\",\"shape\":[2147483647,2147483647,2],\"data_offsets\":[0,8]}}", 8);
        e = Assert.Throws<InvalidDataException>(() => PatchCore.Weights.Safetensors.Read(path));
        Assert.Contains("data_offsets span 8 bytes", e.Message);
    }

    [Fact]
    public void SafetensorsTensorsMayNotShareData()
    {
        // Two tensors over the same 16 bytes: allowed, a header could make thousands and multiply the memory.
        string path = Safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}," +
                                  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}," +
                                  "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}}", 16);
        var e = Assert.Throws<InvalidDataException>(() => PatchCore.Weights.Safetensors.Read(path));
        Assert.Contains("'a' and 'b' overlap", e.Message);
    }

    [Fact]
    public void OnnxDimsWhoseProductWrapsAreRefused()
    {
        // Four dims of 2^16+1: the product 2^64 + ... wraps a long to a small number; it must not pass.
        long d = 65537;
        var t = new Pb().PackedInts(1, [d, d, d, d]).Int(2, OnnxTensor.Float).Str(8, "w").PackedFloats(4, [1f]);
        var graph = new Pb().Msg(5, t);
        var bytes = new Pb().Int(1, 7).Msg(7, graph).ToArray();
        var e = Assert.Throws<InvalidDataException>(() => OnnxModel.Parse(bytes));
        Assert.Contains("too large", e.Message);
        Assert.Contains("[65537,65537,65537,65537]", e.Message);
    }

    [Fact]
    public void WeightMetadataWithAbsurdBlockCountsIsRefusedBeforeEnumeratingConvs()
    {
        var m = WeightFileTests.TinyBasic() with { BlocksPerStage = [int.MaxValue, 1] };
        var e = Assert.Throws<InvalidDataException>(() => WeightValidation.Validate(m, new Dictionary<string, Tensor>(), "w.safetensors"));
        Assert.Contains("exceed", e.Message);
    }
}

/// <summary>Regressions the fuzzing found, one per bug, so each stays fixed even if the fuzz seeds change.</summary>
public class FuzzFindingsTests
{
    [Fact]
    public void TruncatedJpegIsAnErrorNotAHang()
    {
        // stb_image looped for ever on these 11 bytes (its marker skip passed the end of the stream).
        byte[] jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46, 0x00];
        var task = Task.Run(() => Assert.Throws<InvalidDataException>(() => PatchCore.IO.ImageFile.Decode(jpeg, "cut.jpg")));
        Assert.True(task.Wait(TimeSpan.FromSeconds(20)), "decoding a truncated JPEG did not finish");
        Assert.StartsWith("cut.jpg: ", task.Result.Message);
    }

    [Fact]
    public void DecoderMessagesAreOneLineWithoutNulBytes()
    {
        Assert.Equal("corrupt data", PatchCore.IO.ErrorText.OneLine("\0\0\0\0"));
        Assert.Equal("a b", PatchCore.IO.ErrorText.OneLine("a\r\n\0b\n"));
        Assert.Equal(163, PatchCore.IO.ErrorText.OneLine(new string('x', 500)).Length);
    }

    [Fact]
    public void ImageHeaderDeclaringMorePixelsThanTheFileHoldsIsRefused()
    {
        // A 13x7 BMP whose header says 30000 x 20000: stb_image would allocate 1.8 GB and read zeros for minutes.
        var ms = new MemoryStream();
        new StbImageWriteSharp.ImageWriter().WriteBmp(new byte[13 * 7 * 3], 13, 7, StbImageWriteSharp.ColorComponents.RedGreenBlue, ms);
        var bmp = ms.ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(18), 30000);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(22), 20000);
        var e = Assert.Throws<InvalidDataException>(() => PatchCore.IO.ImageFile.Decode(bmp, "big.bmp"));
        Assert.Contains("30000x20000", e.Message);
    }

    [Fact]
    public void PngChunkLengthPastTheEndIsRefusedBeforeAllocating()
    {
        // Found by the 20x soak: one flipped bit in the IDAT length of a 200-byte PNG made stb_image allocate 128 MB.
        var ms = new MemoryStream();
        new StbImageWriteSharp.ImageWriter().WritePng(new byte[9 * 5 * 3], 9, 5, StbImageWriteSharp.ColorComponents.RedGreenBlue, ms);
        var png = ms.ToArray();
        int idat = png.AsSpan().IndexOf("IDAT"u8) - 4;
        png[idat] ^= 0x08; // length += 2^27
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => PatchCore.IO.ImageFile.Decode(png, "flip.png"));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Contains("past the end", e.Message);
    }

    [Fact]
    public void ConfigAndModelNullsAreCleanErrors()
    {
        var e = Assert.Throws<ArgumentException>(() => PatchCore.Pipeline.PatchCoreConfig.FromJson("{\"aggregation\": null}").Validate());
        Assert.Contains("aggregation", e.Message);
        Assert.Throws<ArgumentException>(() => PatchCore.Pipeline.PatchCoreConfig.FromJson("{\"layers\": null}").Validate());
        Assert.Throws<ArgumentException>(() => PatchCore.Pipeline.PatchCoreConfig.FromJson("{\"layers\": [\"layer2\", null]}").Validate());
        var bad = Assert.Throws<InvalidDataException>(() => PatchCore.Pipeline.PatchCoreConfig.FromJson("{\"k\": tru\ne}", "c.json"));
        Assert.DoesNotContain('\n', bad.Message);
    }

    [Fact]
    public void GeometryWithANullPadIsACleanError()
    {
        var m = WeightFileTests.TinyBasic();
        var strings = WeightMetadataCodec.ToStrings(m);
        strings["geometry"] = "{\"conv1\":{\"stride\":2,\"pads\":[null,1,1,1]}}";
        var e = Assert.Throws<InvalidDataException>(() => WeightMetadataCodec.FromStrings(strings, "w.safetensors"));
        Assert.Contains("null pad", e.Message);
    }

    [Fact]
    public void SafetensorsHeaderWithInvalidUtf8IsACleanError()
    {
        string path = Path.Combine(TestPaths.TempDir(), "u.safetensors");
        byte[] header = [.. "{\"a"u8, 0xC3, 0x28, .. "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"u8];
        var bytes = new byte[8 + header.Length + 4];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, header.Length);
        header.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => PatchCore.Weights.Safetensors.Read(path));
        Assert.Contains("UTF-8", e.Message);
    }
}
