using PatchCore.Backbone;
using PatchCore.Backends;
using PatchCore.Backends.Cpu;
using PatchCore.Backends.Reference;
using static PatchCore.Tests.Training.GradientCheck;

namespace PatchCore.Tests.Training;

/// <summary>
/// A whole <see cref="TrainableResNet"/> (layer2 and layer3 trained, BatchNorm in either mode) forward and
/// backward on the fast CPU backend against the reference backend: the stage outputs and every parameter
/// gradient (outputs poisoned, fresh random inputs and upstream gradients, a second upstream gradient on layer2 as
/// a feature penalty would give). Also: the weights written back with nothing trained are the base weights.
/// </summary>
public class TrainableResNetTests
{
    // A composition of ~20 ops (two stages, BN with batch statistics over few cells): float32 rounding of the
    // fast ops compounds, so the bound is 1e-3 relative per tensor rather than a single op's 1e-4. The batch is
    // 4 images of 64² (layer3: 4·4·4 = 64 cells per channel): with 2 images of 48² (18 cells) a channel's batch
    // variance could be tiny and 1/std amplify float32 rounding — seed 10 gave 2.4e-2 in BN-train mode; 16 seeds
    // (10 among them) pass at this size.
    const double Tolerance = 1e-3;

    [Theory]
    [InlineData(BatchNormMode.Frozen)]
    [InlineData(BatchNormMode.Train)]
    public void StageBackwardMatchesTheReference(BatchNormMode mode)
    {
        int seed = NewSeed();
        using var reference = new ReferenceBackend();
        using var cpu = new CpuBackend(threads: 2);
        AssertStageBackwardMatches(reference, cpu, seed, mode, Tolerance);
    }

    /// <summary>Layer2 and layer3 trained on 4 images of 64², forward and backward on <paramref name="truth"/>
    /// and on <paramref name="tested"/> from the same seed (outputs poisoned): stage outputs, BN buffers and every
    /// parameter gradient within <paramref name="tolerance"/>. The gradients are read AFTER Backward returned, as
    /// the optimiser reads them: a gradient a backward pass disposed fails here (on the cuda backend a disposed
    /// tensor refuses to be read).</summary>
    internal static void AssertStageBackwardMatches(ITrainingBackend truth, ITrainingBackend tested, int seed, BatchNormMode mode, double tolerance)
    {
        var weights = PipelineTestData.TinyResNet(seed & 0xffff);
        var rng = new Random(seed);
        var input = BackendOpsTestKit.RandomData(rng, 4 * 3 * 64 * 64);
        var results = new List<Dictionary<string, float[]>>();
        foreach (var b in new[] { truth, tested })
        {
            using var net = TrainableResNet.Create(b, weights, ["layer2", "layer3"], mode);
            var r = new Random(seed + 1);
            using var x = b.Upload(input, 4, 3, 64, 64);
            var got = new Dictionary<string, float[]>();
            BackendOpsTestKit.Poisoned(() =>
            {
                using var pass = net.Forward(x, training: true);
                using var d3 = b.Upload(BackendOpsTestKit.RandomData(r, pass.Outputs["layer3"].Length), pass.Outputs["layer3"].Shape);
                using var d2 = b.Upload(BackendOpsTestKit.RandomData(r, pass.Outputs["layer2"].Length), pass.Outputs["layer2"].Shape);
                got["out.layer3"] = BackendOpsTestKit.Read(b, pass.Outputs["layer3"]);
                got["out.layer2"] = BackendOpsTestKit.Read(b, pass.Outputs["layer2"]);
                net.Backward(pass, new Dictionary<string, DeviceTensor> { ["layer3"] = d3, ["layer2"] = d2 });
                return 0;
            });
            foreach (var p in net.Parameters)
            {
                if (p.Trained) { Assert.NotNull(p.Gradient); got["grad." + p.Name] = BackendOpsTestKit.Read(b, p.Gradient!); }
                else got["buffer." + p.Name] = BackendOpsTestKit.Read(b, p.Value);
            }
            results.Add(got);
        }
        Assert.Equal(results[0].Keys.Order(), results[1].Keys.Order());
        Assert.Contains("grad.layer2.0.downsample.0.weight", results[0].Keys);
        foreach (var (name, expected) in results[0])
            BackendOpsTestKit.AssertClose(results[1][name], expected, tolerance, $"{name} (seed {seed}, BN {mode})");
    }

    [Fact]
    public void WeightsWrittenBackUntrainedAreTheBaseWeights()
    {
        var weights = PipelineTestData.TinyResNet(3);
        using var b = new CpuBackend(threads: 1);
        using var net = TrainableResNet.Create(b, weights, ["layer3"], BatchNormMode.Frozen);
        var back = net.ToWeights();
        Assert.Equal(weights.Tensors.Keys.Order(), back.Tensors.Keys.Order());
        foreach (var (name, t) in weights.Tensors) Assert.Equal(t.Data, back.Tensors[name].Data);
        Assert.Contains(net.Parameters, p => p.Name == "layer3.0.conv1.weight" && p.Trained);
        Assert.Contains(net.Parameters, p => p.Name == "layer3.0.bn1.running_var" && !p.Trained);
        Assert.DoesNotContain(net.Parameters, p => p.Name.StartsWith("layer2", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("layer1")]
    [InlineData("layer2,layer4")]
    public void RefusesStagesItCannotTrain(string stages)
    {
        using var b = new CpuBackend(threads: 1);
        Assert.Throws<ArgumentException>(() => TrainableResNet.Create(b, PipelineTestData.TinyResNet(1), stages.Split(','), BatchNormMode.Frozen));
    }
}
