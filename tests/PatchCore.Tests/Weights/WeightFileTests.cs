using System.Buffers.Binary;
using System.Security.Cryptography;
using PatchCore.Tensors;
using PatchCore.Weights;

namespace PatchCore.Tests.Weights;

public class WeightFileTests
{
    static readonly string Dir = TestPaths.TempDir();

    internal static WeightMetadata TinyBasic() => new()
    {
        Architecture = "tiny",
        Block = "basic",
        BlocksPerStage = [1, 2],
        StageWidths = [64, 128],
        ChannelOrder = "BGR",
        PixelScale = 1f,
        Mean = [103.5f, 116.25f, 123.125f],
        Std = [1f, 1f, 1f],
        BatchNormEpsilon = 1e-3f,
        Geometry = new() { ["conv1"] = new(2, 3, 3, 2, 2), ["maxpool"] = new(2, 1, 1, 0, 0), ["layer2.0.conv1"] = new(2, 1, 1, 0, 0) },
        Source = "test",
    };

    /// <summary>Random tensors for every tensor the metadata's net needs (inner widths from <paramref name="inner"/>).</summary>
    internal static Dictionary<string, Tensor> RandomTensors(WeightMetadata m, int seed = 1, IReadOnlyDictionary<string, Tensor>? inner = null)
    {
        var rng = new Random(seed);
        var d = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var e in WeightValidation.ExpectedTensors(m, inner))
        {
            var v = new float[Tensor.ShapeLength(e.Shape)];
            for (int i = 0; i < v.Length; i++) v[i] = rng.NextSingle();
            d[e.Name] = new Tensor(v, e.Shape);
        }
        return d;
    }

    [Fact]
    public void SaveLoadRoundTripWithIdentity()
    {
        var m = TinyBasic();
        var tensors = RandomTensors(m);
        tensors["fc.weight"] = new Tensor(new float[10], 2, 5); // extra tensors are kept, not required
        string path = Path.Combine(Dir, "tiny.safetensors");
        new WeightFile(m, tensors).Save(path);
        var w = WeightFile.Load(path);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))), w.Identity);
        Assert.Equal(64, w.Identity.Length);
        Assert.Equal(m.Architecture, w.Metadata.Architecture);
        Assert.Equal(m.Block, w.Metadata.Block);
        Assert.Equal(m.BlocksPerStage, w.Metadata.BlocksPerStage);
        Assert.Equal(m.StageWidths, w.Metadata.StageWidths);
        Assert.Equal(m.ChannelOrder, w.Metadata.ChannelOrder);
        Assert.Equal(m.PixelScale, w.Metadata.PixelScale);
        Assert.Equal(m.Mean, w.Metadata.Mean);
        Assert.Equal(m.Std, w.Metadata.Std);
        Assert.Equal(m.BatchNormEpsilon, w.Metadata.BatchNormEpsilon);
        Assert.Equal(m.Source, w.Metadata.Source);
        Assert.Equal(m.Geometry, w.Metadata.Geometry);
        Assert.Equal(tensors.Count, w.Tensors.Count);
        foreach (var (k, t) in tensors) Assert.Equal(t.Data, w.Get(k).Data);
        // Same content, same bytes: the identity is reproducible.
        string again = Path.Combine(Dir, "tiny2.safetensors");
        w.Save(again);
        Assert.Equal(w.Identity, WeightFile.Load(again).Identity);
    }

    [Fact]
    public void ExpectedTensorsOfTorchvisionLayouts()
    {
        var r18 = WeightValidation.ExpectedTensors(TorchvisionConverter.Metadata("resnet18")).ToDictionary(e => e.Name, e => e.Shape);
        Assert.Equal(100, r18.Count); // 20 convs x (weight + 4 BN tensors)
        Assert.Equal([64, 3, 7, 7], r18["conv1.weight"]);
        Assert.False(r18.ContainsKey("layer1.0.downsample.0.weight"));
        Assert.Equal([128, 64, 1, 1], r18["layer2.0.downsample.0.weight"]);
        Assert.Equal([512], r18["layer4.1.bn2.running_var"]);

        var wide = TorchvisionConverter.Metadata("wide_resnet50_2");
        // Inner width comes from layer{s}.0.conv1 in the file: 2 x planes for wide_resnet50_2.
        var probe = new Dictionary<string, Tensor> { ["layer1.0.conv1.weight"] = new Tensor(128, 64, 1, 1), ["layer3.0.conv1.weight"] = new Tensor(512, 512, 1, 1) };
        var w = WeightValidation.ExpectedTensors(wide, probe).ToDictionary(e => e.Name, e => e.Shape);
        Assert.Equal([128, 128, 3, 3], w["layer1.0.conv2.weight"]);
        Assert.Equal([256, 128, 1, 1], w["layer1.0.conv3.weight"]);
        Assert.Equal([256, 64, 1, 1], w["layer1.0.downsample.0.weight"]);
        Assert.Equal([512, 1024, 1, 1], w["layer3.5.conv1.weight"]);
        Assert.Equal([1024, 512, 1, 1], w["layer3.5.conv3.weight"]);
        var g = WeightValidation.TorchvisionGeometry(wide);
        Assert.Equal(new LayerGeometry(2, 1, 1, 1, 1), g["layer2.0.conv2"]); // torchvision v1.5: stride on the 3x3
        Assert.Equal(new LayerGeometry(1, 0, 0, 0, 0), g["layer2.0.conv1"]);
        Assert.Equal(new LayerGeometry(2, 0, 0, 0, 0), g["layer2.0.downsample.0"]);
    }

    string SaveRaw(WeightMetadata m, Dictionary<string, Tensor> t, Dictionary<string, string>? meta = null)
    {
        string path = Path.Combine(Dir, "raw-" + Guid.NewGuid().ToString("N")[..6] + ".safetensors");
        Safetensors.Write(path, t, meta ?? WeightMetadataCodec.ToStrings(m));
        return path;
    }

    [Fact]
    public void MissingTensorIsNamedWithFileAndExpectedShape()
    {
        var m = TinyBasic();
        var t = RandomTensors(m);
        t.Remove("layer2.1.bn2.running_var");
        string path = SaveRaw(m, t);
        var e = Assert.Throws<InvalidDataException>(() => WeightFile.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("missing tensor 'layer2.1.bn2.running_var'", e.Message);
        Assert.Contains("[128]", e.Message);
    }

    [Fact]
    public void WrongShapeIsNamedWithExpectedAndFound()
    {
        var m = TinyBasic();
        var t = RandomTensors(m);
        t["layer2.0.downsample.0.weight"] = new Tensor(128, 64, 3, 3);
        string path = SaveRaw(m, t);
        var e = Assert.Throws<InvalidDataException>(() => WeightFile.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("'layer2.0.downsample.0.weight' has shape [128,64,3,3], expected [128,64,1,1]", e.Message);
    }

    [Fact]
    public void MissingMetadataKeyIsRefused()
    {
        var m = TinyBasic();
        var meta = WeightMetadataCodec.ToStrings(m);
        meta.Remove("block");
        string path = SaveRaw(m, RandomTensors(m), meta);
        var e = Assert.Throws<InvalidDataException>(() => WeightFile.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("'block'", e.Message);

        meta = WeightMetadataCodec.ToStrings(m);
        meta["mean"] = "[1,2";
        path = SaveRaw(m, RandomTensors(m), meta);
        e = Assert.Throws<InvalidDataException>(() => WeightFile.Load(path));
        Assert.Contains("malformed", e.Message);
    }

    [Fact]
    public void TorchvisionStateDictConverts()
    {
        // A state dict as torch saves it: with num_batches_tracked (I64) and fc.*, which the converter drops.
        var m = TorchvisionConverter.Metadata("resnet18");
        var t = RandomTensors(m, seed: 3);
        string path = Path.Combine(Dir, "state.safetensors");
        Safetensors.Write(path, t);
        var fixedUp = AddI64(path, "bn1.num_batches_tracked", 7);
        var w = TorchvisionConverter.Convert(fixedUp, "resnet18");
        Assert.Equal(100, w.Tensors.Count);
        Assert.Equal(t["layer3.1.conv2.weight"].Data, w.Get("layer3.1.conv2.weight").Data);
        Assert.Equal("RGB", w.Metadata.ChannelOrder);
        Assert.Equal(255f, w.Metadata.PixelScale);
        Assert.Equal([0.485f, 0.456f, 0.406f], w.Metadata.Mean);
        Assert.Equal([0.229f, 0.224f, 0.225f], w.Metadata.Std);
        Assert.Equal(new LayerGeometry(2, 1, 1, 1, 1), w.Metadata.Geometry["layer2.0.conv1"]);
        Assert.Equal(new LayerGeometry(2, 3, 3, 3, 3), w.Metadata.Geometry["conv1"]);
        Assert.Equal(new LayerGeometry(2, 1, 1, 1, 1), w.Metadata.Geometry["maxpool"]);

        var e = Assert.Throws<InvalidDataException>(() => TorchvisionConverter.Convert(fixedUp, "resnet34"));
        Assert.Contains("missing tensor 'layer1.2.conv1.weight'", e.Message);
    }

    /// <summary>Rewrite a safetensors file adding one I64 scalar tensor (as torch's num_batches_tracked).</summary>
    static string AddI64(string path, string name, long value)
    {
        var bytes = File.ReadAllBytes(path);
        long n = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        string header = System.Text.Encoding.UTF8.GetString(bytes, 8, (int)n).TrimEnd();
        long dataLen = bytes.Length - 8 - n;
        header = header[..^1] + $",\"{name}\":{{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[{dataLen},{dataLen + 8}]}}}}";
        var data = new byte[dataLen + 8];
        bytes.AsSpan(8 + (int)n).CopyTo(data);
        BitConverter.GetBytes(value).CopyTo(data, dataLen);
        return SafetensorsTests.Handmade(header, data, name: "with-i64");
    }
}
