using System.Buffers.Binary;
using System.Text;
using PatchCore.Tensors;
using PatchCore.Weights;

namespace PatchCore.Tests.Weights;

public class SafetensorsTests
{
    static readonly string Dir = TestPaths.TempDir();

    /// <summary>A safetensors file from a literal JSON header and data bytes (for dtype and malformed cases).</summary>
    internal static string Handmade(string json, byte[] data, long? headerLength = null, string name = "x")
    {
        string path = Path.Combine(Dir, name + "-" + Guid.NewGuid().ToString("N")[..6] + ".safetensors");
        var header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, headerLength ?? header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void RoundTripKeepsTensorsShapesAndMetadata()
    {
        var rng = new Random(1);
        var a = new Tensor(Enumerable.Range(0, 24).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), 2, 3, 4);
        var b = new Tensor([float.MaxValue, -0f, 1e-38f], 3);
        var empty = new Tensor(new float[0], 0, 5);
        string path = Path.Combine(Dir, "rt.safetensors");
        Safetensors.Write(path, new Dictionary<string, Tensor> { ["layer.a"] = a, ["b"] = b, ["empty"] = empty },
            new Dictionary<string, string> { ["k"] = "v \"quoted\" ü", ["geometry"] = "{\"x\":1}" });
        var (t, m) = Safetensors.Read(path);
        Assert.Equal(3, t.Count);
        Assert.Equal(a.Shape, t["layer.a"].Shape);
        Assert.Equal(a.Data, t["layer.a"].Data);
        Assert.Equal(b.Data, t["b"].Data);
        Assert.Equal([0, 5], t["empty"].Shape);
        Assert.Equal("v \"quoted\" ü", m["k"]);
        Assert.Equal("{\"x\":1}", m["geometry"]);
        // Data starts 8-byte aligned, and no temporary file is left behind.
        long headerLen = BinaryPrimitives.ReadInt64LittleEndian(File.ReadAllBytes(path).AsSpan(0, 8));
        Assert.Equal(0, headerLen % 8);
        Assert.Empty(Directory.GetFiles(Dir, "*.tmp"));
    }

    [Fact]
    public void WriteOverwritesAtomically()
    {
        string path = Path.Combine(Dir, "over.safetensors");
        Safetensors.Write(path, new Dictionary<string, Tensor> { ["a"] = new Tensor([1f], 1) });
        Safetensors.Write(path, new Dictionary<string, Tensor> { ["a"] = new Tensor([2f, 3f], 2) });
        Assert.Equal([2f, 3f], Safetensors.Read(path).Tensors["a"].Data);
    }

    [Fact]
    public void ReadsF16Bf16AndF64AsFloat32()
    {
        var data = new List<byte>();
        foreach (var h in new[] { (Half)1.5f, (Half)(-2f) }) data.AddRange(BitConverter.GetBytes(h));
        foreach (var f in new[] { 3.25f, -0.5f }) data.AddRange(BitConverter.GetBytes((ushort)(BitConverter.SingleToInt32Bits(f) >> 16)));
        foreach (var d in new[] { 0.1, 1e10 }) data.AddRange(BitConverter.GetBytes(d));
        string path = Handmade("{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}," +
                               "\"bf\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[4,8]}," +
                               "\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[8,24]}}", data.ToArray());
        var (t, m) = Safetensors.Read(path);
        Assert.Empty(m);
        Assert.Equal([1.5f, -2f], t["h"].Data);
        Assert.Equal([3.25f, -0.5f], t["bf"].Data);
        Assert.Equal([1, 2], t["bf"].Shape);
        Assert.Equal([0.1f, 1e10f], t["d"].Data);
    }

    public static TheoryData<string, string> Malformed() => new()
    {
        // name of the case, expected words in the message
        { "short", "shorter than" },
        { "headerPastEnd", "past the end" },
        { "badJson", "not valid JSON" },
        { "offsetsOutOfRange", "outside the data section" },
        { "offsetsReversed", "outside the data section" },
        { "shapeMismatch", "data_offsets span" },
        { "unknownDtype", "unknown dtype 'Q7'" },
        { "integerDtype", "only F32, F16, BF16 and F64" },
        { "truncatedData", "outside the data section" },
        { "metadataNotString", "not a string" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedFilesNameTheFileAndTheProblem(string kind, string words)
    {
        var f8 = new byte[8];
        string entry(string dtype, string shape, string offs) => $"{{\"t\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":{offs}}}}}";
        string path = kind switch
        {
            "short" => WriteRaw([1, 2, 3]),
            "headerPastEnd" => Handmade(entry("F32", "[2]", "[0,8]"), f8, headerLength: 1000),
            "badJson" => Handmade("{\"t\": [", f8),
            "offsetsOutOfRange" => Handmade(entry("F32", "[4]", "[0,16]"), f8),
            "offsetsReversed" => Handmade(entry("F32", "[2]", "[8,0]"), f8),
            "shapeMismatch" => Handmade(entry("F32", "[3]", "[0,8]"), f8),
            "unknownDtype" => Handmade(entry("Q7", "[2]", "[0,8]"), f8),
            "integerDtype" => Handmade(entry("I64", "[1]", "[0,8]"), f8),
            "truncatedData" => Truncate(Handmade(entry("F32", "[2]", "[0,8]"), f8), 4),
            "metadataNotString" => Handmade("{\"__metadata__\":{\"a\":1}}", []),
            _ => throw new ArgumentException(kind),
        };
        var e = Assert.Throws<InvalidDataException>(() => Safetensors.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(words, e.Message);
    }

    static string WriteRaw(byte[] bytes)
    {
        string p = Path.Combine(Dir, "raw-" + Guid.NewGuid().ToString("N")[..6] + ".safetensors");
        File.WriteAllBytes(p, bytes);
        return p;
    }

    static string Truncate(string path, int drop)
    {
        var b = File.ReadAllBytes(path);
        File.WriteAllBytes(path, b[..^drop]);
        return path;
    }
}
