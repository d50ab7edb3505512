using PatchCore.Weights;
using PatchCore.Weights.Onnx;

namespace PatchCore.Tests.Weights;

public class OnnxConverterTests
{
    static readonly string Dir = TestPaths.TempDir();
    static readonly InputNormalization Bgr = new("BGR", 1f, [100f, 110f, 120f], [1f, 1f, 1f]);

    [Fact]
    public void TinyGraphConvertsWithStructureFromTheGraph()
    {
        var g = OnnxGraphBuilder.TinyResNet();
        string path = g.Save(Dir);
        var w = OnnxResNetConverter.Convert(path, "tiny", Bgr, "src");
        var m = w.Metadata;
        Assert.Equal("basic", m.Block);
        Assert.Equal([1, 1], m.BlocksPerStage);
        Assert.Equal([64, 128], m.StageWidths);
        Assert.Equal("BGR", m.ChannelOrder);
        Assert.Equal([100f, 110f, 120f], m.Mean);
        Assert.Equal(new LayerGeometry(2, 3, 3, 2, 2), m.Geometry["conv1"]);
        Assert.Equal(new LayerGeometry(2, 1, 1, 0, 0), m.Geometry["maxpool"]);
        Assert.Equal(new LayerGeometry(2, 1, 1, 0, 0), m.Geometry["layer2.0.conv1"]);
        Assert.Equal(new LayerGeometry(2, 0, 0, 0, 0), m.Geometry["layer2.0.downsample.0"]);
        Assert.Equal(new LayerGeometry(1, 1, 1, 1, 1), m.Geometry["layer1.0.conv2"]);
        Assert.Equal(30, w.Tensors.Count); // 6 convs x (weight + 4 BN tensors); fc (Gemm) dropped
        // Values travel unchanged, from float_data (W1, the stem) and raw_data (W10, layer1.0.conv1).
        Assert.Equal(g.Values["W1"], w.Get("conv1.weight").Data);
        Assert.Equal(g.Values["W5"], w.Get("bn1.running_mean").Data);
        Assert.Equal(g.Values["W10"], w.Get("layer1.0.conv1.weight").Data);
        Assert.Equal([128, 64, 1, 1], w.Get("layer2.0.downsample.0.weight").Shape);
        // And the result saves and loads as a validated weight file.
        string outPath = Path.Combine(Dir, "tiny.safetensors");
        w.Save(outPath);
        Assert.Equal(m.Geometry, WeightFile.Load(outPath).Metadata.Geometry);
    }

    [Fact]
    public void UnknownOpIsNamedWithItsNode()
    {
        var g = OnnxGraphBuilder.TinyResNet((b, x) => b.NodeNamed("Sigmoid", "Strange42", [x]));
        string path = g.Save(Dir);
        var e = Assert.Throws<InvalidDataException>(() => OnnxResNetConverter.Convert(path, "t", Bgr));
        Assert.Contains(path, e.Message);
        Assert.Contains("unsupported op 'Sigmoid' in node 'Strange42'", e.Message);
    }

    [Fact]
    public void TruncatedOnnxIsRefused()
    {
        var bytes = OnnxGraphBuilder.TinyResNet().ToBytes();
        string path = Path.Combine(Dir, "truncated.onnx");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<InvalidDataException>(() => OnnxResNetConverter.Convert(path, "t", Bgr));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void WrongStemShapeIsNamed()
    {
        string path = OnnxGraphBuilder.TinyResNet(stemKernel: 5).Save(Dir);
        var e = Assert.Throws<InvalidDataException>(() => OnnxResNetConverter.Convert(path, "t", Bgr));
        Assert.Contains(path, e.Message);
        Assert.Contains("'conv1.weight' has shape [64,3,5,5], expected [64,3,7,7]", e.Message);
    }

    [Fact]
    public void MissingInitializerIsNamed()
    {
        var g = OnnxGraphBuilder.TinyResNet((b, x) =>
        {
            // A branch hanging off the last block whose weight is not an initializer.
            b.Node("Conv", [x, "NoSuchWeight"]);
        });
        string path = g.Save(Dir);
        var e = Assert.Throws<InvalidDataException>(() => OnnxResNetConverter.Convert(path, "t", Bgr));
        Assert.Contains(path, e.Message);
        Assert.Contains("weight (input 1) is not an initializer", e.Message);
    }

    [Fact]
    public void RealCntkResNet18Converts()
    {
        string onnx = TestPaths.CntkResNet18Onnx, prep = TestPaths.CntkPreprocessOnnx;
        if (!File.Exists(onnx) || !File.Exists(prep))
            Assert.Skip($"CNTK ONNX not restored ({onnx}); run 'dotnet restore' to download Microsoft.ML.DnnImageFeaturizer.ResNet18");
        var norm = OnnxPreprocess.Read(prep);
        Assert.Equal("BGR", norm.ChannelOrder);
        Assert.Equal(1f, norm.PixelScale);
        Assert.Equal([1f, 1f, 1f], norm.Std);
        Assert.Equal(103.0626, norm.Mean[0], 0.001);
        Assert.Equal(115.9029, norm.Mean[1], 0.001);
        Assert.Equal(123.1516, norm.Mean[2], 0.001);

        var w = OnnxResNetConverter.Convert(onnx, "resnet18-cntk", norm);
        var m = w.Metadata;
        Assert.Equal("basic", m.Block);
        Assert.Equal([2, 2, 2, 3], m.BlocksPerStage);
        Assert.Equal([64, 128, 256, 512], m.StageWidths);
        Assert.Equal(new LayerGeometry(2, 3, 3, 2, 2), m.Geometry["conv1"]);
        Assert.Equal(new LayerGeometry(2, 1, 1, 0, 0), m.Geometry["maxpool"]);
        Assert.Equal(new LayerGeometry(2, 1, 1, 0, 0), m.Geometry["layer2.0.conv1"]);
        Assert.Equal(new LayerGeometry(2, 1, 1, 0, 0), m.Geometry["layer3.0.conv1"]);
        Assert.Equal(new LayerGeometry(2, 0, 0, 0, 0), m.Geometry["layer2.0.downsample.0"]);
        Assert.Equal(new LayerGeometry(1, 1, 1, 1, 1), m.Geometry["layer4.2.conv2"]);
        Assert.Equal(1e-5f, m.BatchNormEpsilon, 1e-9f);
        Assert.Equal(110, w.Tensors.Count);
        Assert.Equal([512, 512, 3, 3], w.Get("layer4.2.conv1.weight").Shape);

        string path = Path.Combine(Dir, "resnet18-cntk.safetensors");
        w.Save(path);
        var loaded = WeightFile.Load(path);
        Assert.Equal(w.Get("layer3.1.bn2.running_var").Data, loaded.Get("layer3.1.bn2.running_var").Data);
        Assert.Equal(m.Geometry, loaded.Metadata.Geometry);
    }
}
