using System.Buffers.Binary;
using System.Text;
using CsCheck;
using PatchCore.Tensors;
using PatchCore.Tests.Weights;
using PatchCore.Weights;
using PatchCore.Weights.Onnx;

namespace PatchCore.Tests.Fuzz;

/// <summary>Mutated safetensors, pcnative weight files, weight metadata and ONNX models: a valid result or one
/// clean InvalidDataException naming the file.</summary>
public class WeightParserFuzzTests
{
    readonly string _dir = TestPaths.TempDir();

    /// <summary>A parser that reads a path: each case is written to the same file first.</summary>
    Func<byte[], T> ViaFile<T>(string name, Func<string, T> read)
    {
        string path = Path.Combine(_dir, name);
        return bytes => { File.WriteAllBytes(path, bytes); return read(path); };
    }

    static void ValidTensors(Dictionary<string, Tensor> tensors)
    {
        foreach (var t in tensors.Values) Assert.Equal(Tensor.ShapeLength(t.Shape), t.Data.LongLength);
    }

    static int HeaderEnd(byte[] safetensors) => 8 + (int)BinaryPrimitives.ReadInt64LittleEndian(safetensors);

    /// <summary>Every dtype the reader converts, an empty tensor, an integer one and metadata.</summary>
    static byte[] MixedSafetensors()
    {
        var data = new List<byte>();
        foreach (var f in new[] { 1f, -2f, 3.5f, 0f, 1e-30f, 7f }) data.AddRange(BitConverter.GetBytes(f));
        foreach (var h in new[] { (Half)1.5f, (Half)(-2f) }) data.AddRange(BitConverter.GetBytes(h));
        foreach (var f in new[] { 3.25f, -0.5f }) data.AddRange(BitConverter.GetBytes((ushort)(BitConverter.SingleToInt32Bits(f) >> 16)));
        foreach (var d in new[] { 0.1, 1e10 }) data.AddRange(BitConverter.GetBytes(d));
        data.AddRange(BitConverter.GetBytes(42L));
        string json = "{\"__metadata__\":{\"format\":\"pcnative-weights-1\",\"mean\":\"[1,2,3]\"}," +
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}," +
                      "\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[24,28]}," +
                      "\"bf\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[28,32]}," +
                      "\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[32,48]}," +
                      "\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[48,48]}," +
                      "\"n\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[48,56]}}";
        var header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + data.Count];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    [Fact]
    public void Safetensors()
    {
        var valid = MixedSafetensors();
        // Skip the integer tensor as WeightFile does for torch's num_batches_tracked; everything else converts.
        var (parsed, refused) = ParserFuzz.Run("safetensors", valid, HeaderEnd(valid), ParserFuzz.Iterations(800),
            ViaFile("m.safetensors", p => PatchCore.Weights.Safetensors.Read(p, n => n != "n").Tensors), ValidTensors,
            mustName: "m.safetensors");
        Assert.True(parsed > 0 && refused > 0, $"{parsed} parsed, {refused} refused");
    }

    /// <summary>The smallest net the weight file accepts: stem + one basic block of 64 channels.</summary>
    static WeightMetadata OneStage() => WeightFileTests.TinyBasic() with
    {
        BlocksPerStage = [1], StageWidths = [64], Geometry = new() { ["conv1"] = new(2, 3, 3, 2, 2) },
    };

    [Fact]
    public void WeightFileLoad()
    {
        var m = OneStage();
        string path = Path.Combine(_dir, "valid.safetensors");
        new WeightFile(m, WeightFileTests.RandomTensors(m)).Save(path);
        var valid = File.ReadAllBytes(path);
        var (parsed, refused) = ParserFuzz.Run("weight file", valid, HeaderEnd(valid), ParserFuzz.Iterations(300),
            ViaFile("w.safetensors", WeightFile.Load), w => ValidTensors(w.Tensors), mustName: "w.safetensors");
        Assert.True(refused > 0, $"{parsed} parsed, {refused} refused");
    }

    static readonly string[] NastyValues =
    [
        "", "null", "[]", "[null]", "[1e99]", "[-1]", "[0]", "[2147483647]", "[2147483648]", "[1,2,3,4,5]", "{}", "NaN",
        "-0", "1e-45", "1e39", "-1", "0", "\"x\"", "[[1]]", "[1.5]", "[\"1\"]", "{\"a\":1}", new string('[', 5000),
        "{\"conv1\":null}", "{\"conv1\":[]}", "{\"conv1\":{\"stride\":2,\"pads\":[null,1,1,1]}}",
        "{\"conv1\":{\"stride\":\"x\",\"pads\":[1,1,1,1]}}", "{\"conv1\":{\"stride\":0,\"pads\":[1,1,1,1]}}",
        "{\"conv1\":{\"stride\":2,\"pads\":[1,1,1]}}", "{\"conv1\":{\"stride\":2,\"pads\":{}}}",
        "{\"conv1\":{\"stride\":1e10,\"pads\":[1,1,1,1]}}", "{\"maxpool\":{\"stride\":2,\"pads\":[-1,1,1,1]}}",
        "basic", "bottleneck", "RGB", "BGR", "[3,4,6,3]", "[64,128,256,2147483647]", "[1,1]", "[2147483647]",
    ];

    [Fact]
    public void WeightMetadataValues()
    {
        // Structure-aware: replace 1-3 metadata values by nasty ones, then parse and validate as WeightFile.Load does.
        var m = OneStage();
        var tensors = WeightFileTests.RandomTensors(m);
        var strings = WeightMetadataCodec.ToStrings(m);
        string[] keys = [.. strings.Keys, "batchnorm_epsilon", "geometry"];
        var gen = Gen.Select(Gen.Int[0, keys.Length - 1], Gen.Int[0, NastyValues.Length - 1]).Array[1, 3];
        var pcg = new PCG(2, 20261201);
        int refused = 0, n = ParserFuzz.Iterations(2000);
        for (int i = 0; i < n; i++)
        {
            var edits = gen.Generate(pcg, null!, out _);
            var d = new Dictionary<string, string>(strings);
            foreach (var (k, v) in edits) d[keys[k]] = NastyValues[v];
            try
            {
                var meta = WeightMetadataCodec.FromStrings(d, "meta.safetensors");
                WeightValidation.Validate(meta, tensors, "meta.safetensors");
            }
            catch (InvalidDataException e) when (e.Message.StartsWith("meta.safetensors: ", StringComparison.Ordinal) && !e.Message.Contains('\n'))
            {
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"metadata case {i} ({string.Join(", ", edits.Select(x => $"{keys[x.Item1]}={NastyValues[x.Item2][..Math.Min(40, NastyValues[x.Item2].Length)]}"))}): {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
        }
        Assert.True(refused > n / 2, $"only {refused} of {n} nasty metadata refused");
    }

    /// <summary>An ONNX file exercising every TensorProto encoding and attribute kind the reader knows.</summary>
    static byte[] SmallOnnx()
    {
        var packed = new Pb().PackedInts(1, [2, 3]).Int(2, OnnxTensor.Float).Str(8, "packed").PackedFloats(4, [1, 2, 3, 4, 5, 6]);
        var raw = new Pb().PackedInts(1, [4]).Int(2, OnnxTensor.Float).Str(8, "raw").Bytes(9, new float[] { 1, -1, 2, -2 }.SelectMany(BitConverter.GetBytes).ToArray());
        var dbl = new Pb().PackedInts(1, [2]).Int(2, OnnxTensor.Double).Str(8, "double").Bytes(10, new double[] { 0.5, 1e10 }.SelectMany(BitConverter.GetBytes).ToArray());
        var f16 = new Pb().PackedInts(1, [2]).Int(2, OnnxTensor.Float16).Str(8, "half").PackedInts(5, [BitConverter.HalfToUInt16Bits((Half)1.5f), 0x3C00]);
        var bf16 = new Pb().Int(1, 2).Int(2, OnnxTensor.BFloat16).Str(8, "bf16").Bytes(9, [0x80, 0x3F, 0x00, 0x40]);
        var ints = new Pb().PackedInts(1, [3]).Int(2, 7).Str(8, "int64s").Bytes(9, new byte[24]);
        var conv = new Pb().Str(1, "data").Str(1, "packed").Str(2, "y").Str(3, "c1").Str(4, "Conv")
            .Msg(5, OnnxGraphBuilder.Ints("pads", 1, 1, 0, 0)).Msg(5, OnnxGraphBuilder.IntAttr("group", 1))
            .Msg(5, OnnxGraphBuilder.FloatAttr("epsilon", 1e-5f))
            .Msg(5, new Pb().Str(1, "value").Msg(5, raw).Int(20, 4))
            .Msg(5, new Pb().Str(1, "names").Str(9, "a").Str(9, "b").Int(20, 8))
            .Msg(5, new Pb().Str(1, "floats").PackedFloats(7, [1f, 2f]).Int(20, 6));
        var relu = new Pb().Str(1, "y").Str(2, "z").Str(3, "r1").Str(4, "Relu");
        var graph = new Pb().Msg(1, conv).Msg(1, relu).Str(2, "small")
            .Msg(5, packed).Msg(5, raw).Msg(5, dbl).Msg(5, f16).Msg(5, bf16).Msg(5, ints)
            .Msg(11, new Pb().Str(1, "data")).Msg(12, new Pb().Str(1, "z"));
        return new Pb().Int(1, 7).Str(2, "pcnative-fuzz").Msg(7, graph).ToArray();
    }

    [Fact]
    public void OnnxModelLoad()
    {
        var valid = SmallOnnx();
        var (parsed, refused) = ParserFuzz.Run("onnx", valid, valid.Length, ParserFuzz.Iterations(1200),
            ViaFile("m.onnx", OnnxModel.Load), g =>
            {
                foreach (var t in g.Initializers.Values)
                    if (t.Data != null) Assert.Equal(t.ToTensor().Length, t.Data.LongLength);
            }, mustName: "m.onnx");
        Assert.True(parsed > 0 && refused > 0, $"{parsed} parsed, {refused} refused");
    }

    [Fact]
    public void OnnxResNetConversion()
    {
        // The whole convert path (reader + graph walker) on a tiny ResNet; edits favour the graph's first bytes,
        // where the nodes are (the initializers' data follow them).
        var valid = OnnxGraphBuilder.TinyResNet().ToBytes();
        var norm = new InputNormalization("BGR", 1f, [100f, 110f, 120f], [1f, 1f, 1f]);
        var (parsed, refused) = ParserFuzz.Run("onnx resnet", valid, 4096, ParserFuzz.Iterations(60),
            ViaFile("r.onnx", p => OnnxResNetConverter.Convert(p, "tiny", norm)), w => ValidTensors(w.Tensors), mustName: "r.onnx");
        Assert.True(refused > 0, $"{parsed} parsed, {refused} refused");
    }
}
