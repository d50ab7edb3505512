using PatchCore.FineTuning;
using PatchCore.Tensors;
using PatchCore.Tests.Reliability;
using PatchCore.Weights;

namespace PatchCore.Tests.FineTuning;

/// <summary>
/// `pcnative finetune --dump-step FILE` on the synthetic demo category with a tiny random ResNet (no PyTorch
/// needed): the file has the batch, the loss and a finite gradient for every trained parameter under its weight-file
/// name, and those gradients are the ones a real run's first step applies: a one-step run with plain SGD (lr 1, no
/// momentum, no weight decay, one batch holding every training image) moves each parameter by exactly −gradient,
/// which the run's checkpoint shows.
/// </summary>
[Collection("Console")]
public class DumpStepTests
{
    static string[] Flags(string root, string weights, string task, string batchNorm) =>
    [
        "--data-root", root, "--category", "demo", "--weights", weights, "--backend", "cpu", "--threads", "2",
        "--resize", "48", "--crop", "48", "--task", task, "--batchnorm", batchNorm, "--train-stages", "layer2,layer3",
        "--head-hidden", "16", "--head-dim", "8", "--cutmix-negatives", "2", "--holdout", "0.25", "--seed", "3",
        // One step per epoch (8 images, 6 train): the dumped step is the run's only step.
        "--batch", "64", "--epochs", "1", "--learning-rate", "1", "--momentum", "0", "--weight-decay", "0", "--warmup-epochs", "0",
    ];

    [Theory]
    [InlineData("rotation", "frozen")]
    [InlineData("contrastive", "train")]
    public void DumpedGradientsAreTheOnesTheRunsFirstStepApplies(string task, string batchNorm)
    {
        string root = CliRunner.TinyRoot(out string weightsPath);
        string dump = Path.Combine(root, "step.safetensors"), outW = Path.Combine(root, "ft.safetensors");
        var flags = Flags(root, weightsPath, task, batchNorm);

        var r = CliRunner.Run(["finetune", .. flags, "--dump-step", dump]);
        Assert.True(r.Code == 0, r.Err);
        Assert.False(File.Exists(dump + ".ckpt"));
        var (tensors, meta) = Safetensors.Read(dump);
        Assert.Equal("pcnative-finetune-step-1", meta["format"]);
        Assert.Equal(task, meta["task"]);
        int rows = int.Parse(meta["rows"], System.Globalization.CultureInfo.InvariantCulture);
        // 6 training images: rotation makes 4 rows of each, contrastive 2 views each + 2 CutMix negatives.
        Assert.Equal(task == "rotation" ? 24 : 14, rows);
        Assert.Equal([rows, 3, 48, 48], tensors["input"].Shape);
        Assert.Equal(double.Parse(meta["loss"], System.Globalization.CultureInfo.InvariantCulture), tensors["loss"].Data[0], 1e-6);
        if (task == "rotation") Assert.Equal([rows], tensors["labels"].Shape);
        else Assert.Equal("6", meta["contrastive.pairs"]);

        // Every trained tensor of layer2 and layer3 (conv weights, BN γ and β) and of the head has a gradient.
        var baseWeights = WeightFile.Load(weightsPath);
        var expected = baseWeights.Tensors.Keys
            .Where(k => (k.StartsWith("layer2.", StringComparison.Ordinal) || k.StartsWith("layer3.", StringComparison.Ordinal)) && !k.Contains("running_"))
            .Concat(tensors.Keys.Where(k => k.StartsWith("init/", StringComparison.Ordinal)).Select(k => k[5..]))
            .Order(StringComparer.Ordinal).ToArray();
        var dumped = tensors.Keys.Where(k => k.StartsWith("grad/", StringComparison.Ordinal)).Select(k => k[5..]).Order(StringComparer.Ordinal).ToArray();
        Assert.Contains(task == "rotation" ? "head.rotation.weight" : "head.contrastive.3.weight", dumped);
        Assert.Contains("layer3.0.downsample.1.weight", dumped);
        Assert.Contains("relu/layer2.0.relu1", tensors.Keys);
        Assert.Equal(expected, dumped);
        Assert.Contains("relu/layer3.0.out", tensors.Keys);
        // The head's ReLU output too (contrastive: Linear-BatchNorm1d-ReLU-Linear, the ReLU at index 2), [rows, hidden].
        if (task == "contrastive")
        {
            Assert.Contains("relu/head.contrastive.2", tensors.Keys);
            Assert.Equal(2, tensors["relu/head.contrastive.2"].Shape.Length);
            Assert.All(tensors["relu/head.contrastive.2"].Data, v => Assert.True(v >= 0));
        }
        else Assert.DoesNotContain(tensors.Keys, k => k.StartsWith("relu/head.", StringComparison.Ordinal));

        // The run: its checkpoint holds the values after its one SGD step, w1 = w0 − 1·g.
        r = CliRunner.Run(["finetune", .. flags, "--out", outW]);
        Assert.True(r.Code == 0, r.Err);
        var ck = FineTuneCheckpoint.Load(outW + ".ckpt");
        Assert.Equal(1, ck.Step);
        foreach (var name in dumped)
        {
            var g = tensors["grad/" + name].Data;
            var w0 = (name.StartsWith("head.", StringComparison.Ordinal) ? tensors["init/" + name] : baseWeights.Tensors[name]).Data;
            var w1 = ck.Tensors["value/" + name].Data;
            Assert.Equal(g.Length, w1.Length);
            double gmax = 0;
            foreach (float v in g) { Assert.True(float.IsFinite(v), $"{name}: non-finite gradient"); gmax = Math.Max(gmax, Math.Abs(v)); }
            Assert.True(gmax > 0, $"{name}: all-zero gradient");
            for (int i = 0; i < g.Length; i++)
            {
                // w1 = fl(w0 − g): recovering g from it costs up to one float32 rounding (ε = 2⁻²³) of the larger of w0, w1.
                double rounding = Math.Max(Math.Abs(w0[i]), Math.Abs(w1[i])) * 1.1920929e-7;
                double moved = (double)w0[i] - w1[i];
                Assert.True(Math.Abs(moved - g[i]) <= rounding + 1e-6 * gmax,
                    $"{name}[{i}]: the run moved it by {moved:G9}, the dump says gradient {g[i]:G9}");
            }
        }
    }

    [Fact]
    public void DumpStepWithOutIsOneLineError()
    {
        string root = CliRunner.TinyRoot(out string weightsPath);
        var flags = Flags(root, weightsPath, "rotation", "frozen");
        CliRunner.AssertOneLineError(CliRunner.Run(["finetune", .. flags, "--dump-step", Path.Combine(root, "s.safetensors"), "--out", Path.Combine(root, "w.safetensors")]), 1, "--dump-step");
        CliRunner.AssertOneLineError(CliRunner.Run(["finetune", .. flags]), 1, "--out");
    }
}
