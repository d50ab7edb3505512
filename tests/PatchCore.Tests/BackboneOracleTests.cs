using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using PatchCore.Backbone;
using PatchCore.Backends.Cpu;
using PatchCore.Data;
using PatchCore.IO;
using PatchCore.Weights.Onnx;
using static PatchCore.Tests.BackendOpsTestKit;

namespace PatchCore.Tests;

/// <summary>
/// The independent oracle: the CNTK ResNet18, converted by our ONNX converter and run by our fast CPU backend
/// to the 512-d pooled vector, against ONNX Runtime running the original ONNX file on the same input tensor.
/// The ONNX graph's only output, Pooling395_Output_0 [1,512,1,1], is the 7x7 average pool of layer4 (its
/// 3-block layer4 included), i.e. exactly our "pool" at 224.
/// </summary>
public class BackboneOracleTests
{
    [Fact]
    public void CntkResNet18PooledVectorMatchesOnnxRuntime()
    {
        string onnx = TestPaths.CntkResNet18Onnx, prep = TestPaths.CntkPreprocessOnnx;
        if (!File.Exists(onnx) || !File.Exists(prep))
            Assert.Skip($"CNTK ONNX not restored ({onnx}); run 'dotnet restore'");
        var weights = OnnxResNetConverter.Convert(onnx, "resnet18-cntk", OnnxPreprocess.Read(prep));
        string image = Directory.GetFiles(Path.Combine(TestPaths.SharedData, "mvtec256", "transistor", "test", "good")).Order().First();
        float[] input = Preprocessing.ToInput(ImageFile.Decode(image), new ResizeSpec(256, 224), weights.Metadata.ToNormalization());

        float[] ours;
        using (var cpu = new CpuBackend())
        using (var net = ResNet.Load(cpu, weights))
        using (var x = cpu.Upload(input, 1, 3, 224, 224))
        {
            var pooled = net.Forward(x, "pool")[0];
            Assert.Equal([1, 512], pooled.Shape);
            ours = Read(cpu, pooled);
            pooled.Dispose();
        }

        float[] ort;
        using (var session = new InferenceSession(onnx))
        {
            string inputName = session.InputMetadata.Keys.Single();
            var tensor = new DenseTensor<float>(input, [1, 3, 224, 224]);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(inputName, tensor)]);
            var output = results.Single().AsTensor<float>();
            Assert.Equal([1, 512, 1, 1], output.Dimensions.ToArray());
            ort = output.ToArray();
        }
        Assert.True(ort.Count(v => v > 0) > 100, "ONNX Runtime's pooled vector is mostly zero: wrong input?");
        AssertClose(ours, ort, 1e-4, $"pooled vector of {Path.GetFileName(image)} vs ONNX Runtime");
    }
}
