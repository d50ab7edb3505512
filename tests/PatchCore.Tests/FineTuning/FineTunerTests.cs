using PatchCore.Backbone;
using PatchCore.Backends.Cpu;
using PatchCore.FineTuning;
using PatchCore.Weights;

namespace PatchCore.Tests.FineTuning;

/// <summary>
/// The fine-tuning loop on a tiny random ResNet and small synthetic images (CI budget): learning rate 0 with
/// BatchNorm frozen leaves the features bit-identical through the weight round trip; a resumed run ends
/// bit-identical to an uninterrupted one; the rotation loss falls on images whose orientation is visible.
/// </summary>
public class FineTunerTests
{
    const int Size = 32;

    /// <summary>Images with an unmistakable "up": a bright band at the top, a dark corner bottom-left, noise.</summary>
    internal static NominalImage[] OrientedImages(int count, int seed)
    {
        var rng = new Random(seed);
        var images = new NominalImage[count];
        for (int n = 0; n < count; n++)
        {
            var planes = new float[3 * Size * Size];
            double tilt = rng.NextDouble();
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < Size; y++)
                    for (int x = 0; x < Size; x++)
                    {
                        double v = (y < 6 ? 2.0 : 0) - (y > Size - 10 && x < 10 ? 1.5 : 0) + 0.3 * tilt * x / Size + 0.3 * (rng.NextDouble() - 0.5);
                        planes[(c * Size + y) * Size + x] = (float)v;
                    }
            images[n] = new NominalImage(planes, Size, Size, $"synthetic/{n}.png");
        }
        return images;
    }

    /// <summary>Images that each have their own colour and blob position (what a contrastive task can tell apart).</summary>
    internal static NominalImage[] DistinctImages(int count, int seed)
    {
        var rng = new Random(seed);
        var images = new NominalImage[count];
        for (int n = 0; n < count; n++)
        {
            var planes = new float[3 * Size * Size];
            double cy = rng.NextDouble() * Size, cx = rng.NextDouble() * Size;
            var colour = new[] { rng.NextDouble() * 4 - 2, rng.NextDouble() * 4 - 2, rng.NextDouble() * 4 - 2 };
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < Size; y++)
                    for (int x = 0; x < Size; x++)
                    {
                        double blob = Math.Exp(-((y - cy) * (y - cy) + (x - cx) * (x - cx)) / 40.0);
                        planes[(c * Size + y) * Size + x] = (float)(colour[c] * (0.3 + blob) + 0.2 * (rng.NextDouble() - 0.5));
                    }
            images[n] = new NominalImage(planes, Size, Size, $"synthetic/{n}.png");
        }
        return images;
    }

    static FineTuneConfig Small => new()
    {
        Epochs = 2, Batch = 3, Holdout = 0.25, Crop = Size, Resize = Size, LearningRate = 0.05, WarmupEpochs = 0.5,
        TrainStages = "layer2,layer3", Seed = 7,
    };

    static string Temp(string name) => Path.Combine(Path.GetTempPath(), $"pcnative-ft-{Environment.ProcessId}-{Guid.NewGuid():N}-{name}");

    /// <summary>The task a run uses, by its --task name (the contrastive head kept small for the CI budget).</summary>
    static IFineTuneTask NewTask(string name) => name switch
    {
        "contrastive" => new ContrastiveTask(new ContrastiveOptions { ProjectionHidden = 16, ProjectionDim = 8, CutMixNegatives = 2 }),
        _ => new RotationTask(),
    };

    [Theory]
    [InlineData("rotation")]
    [InlineData("contrastive")]
    public void LearningRateZeroKeepsTheFeaturesBitIdentical(string taskName)
    {
        var weights = PipelineTestData.TinyResNet(11);
        var config = Small with { Task = taskName, LearningRate = 0, Epochs = 1, BatchNorm = "frozen", Optimizer = "adamw", WeightDecay = 0.05 };
        using var backend = new CpuBackend(threads: 2);
        using var task = NewTask(taskName);
        var result = new FineTuner(backend, weights, task, config).Run(OrientedImages(6, 1));
        string path = Temp("lr0.safetensors");
        try
        {
            FineTuner.Save(result, path);
            var back = WeightFile.Load(path);
            Assert.Equal(taskName, Safetensors.Read(path).Metadata["finetune.task"]);
            var input = OrientedImages(2, 99).SelectMany(i => i.Planes).ToArray();
            float[][] Features(WeightFile w)
            {
                using var net = ResNet.Load(backend, w);
                using var x = backend.Upload(input, 2, 3, Size, Size);
                var maps = net.Forward(x, "layer2", "layer3");
                try { return maps.Select(m => BackendOpsTestKit.Read(backend, m)).ToArray(); }
                finally { foreach (var m in maps) m.Dispose(); }
            }
            var before = Features(weights);
            var after = Features(back);
            for (int i = 0; i < before.Length; i++)
                Assert.True(before[i].AsSpan().SequenceEqual(after[i]), $"layer{i + 2} features changed with learning rate 0");
        }
        finally { File.Delete(path); }
    }

    /// <summary>`bench train`'s entry: every step reported once, in order, with its time, wrapping around the images
    /// when the steps need more batches than there are (4 images, batch 3: every step after the first wraps); no
    /// images is an argument error (one line from the CLI).</summary>
    [Theory]
    [InlineData("rotation")]
    [InlineData("contrastive")]
    public void RunStepsReportsEveryStepAndTrains(string taskName)
    {
        var weights = PipelineTestData.TinyResNet(3);
        var config = Small with { Task = taskName, TrainStages = "layer3" };
        using var backend = new CpuBackend(threads: 2);
        using var task = NewTask(taskName);
        var seen = new List<int>();
        var ft = new FineTuner(backend, weights, task, config);
        ft.RunSteps(OrientedImages(4, 3), 4, (step, elapsed) =>
        {
            seen.Add(step);
            Assert.True(elapsed > TimeSpan.Zero);
        });
        Assert.Equal([0, 1, 2, 3], seen);
        Assert.Throws<ArgumentException>(() => ft.RunSteps([], 1, (_, _) => { }));
    }

    [Theory]
    [InlineData("sgd", "train", 0.0, 0.0)]
    [InlineData("adamw", "frozen", 0.5, 0.1)]
    public void ResumedRunEndsBitIdentical(string optimizer, string batchNorm, double featurePenalty, double l2sp)
    {
        var weights = PipelineTestData.TinyResNet(5);
        var config = Small with { Optimizer = optimizer, BatchNorm = batchNorm, FeaturePenalty = featurePenalty, L2sp = l2sp, LearningRate = optimizer == "adamw" ? 1e-3 : 0.05 };
        var images = OrientedImages(8, 2);
        string ckA = Temp("a.ckpt"), ckB = Temp("b.ckpt");
        try
        {
            FineTuneResult Run(string ck, int? stopAfter, bool resume)
            {
                using var backend = new CpuBackend(threads: 2);
                using var task = new RotationTask();
                return new FineTuner(backend, weights, task, config).Run(images, ck, resume, stopAfter);
            }
            var whole = Run(ckA, null, false);
            Run(ckB, 1, false);   // interrupted after epoch 1
            var resumed = Run(ckB, null, true);
            Assert.Equal(whole.History, resumed.History);
            foreach (var (name, t) in whole.Weights.Tensors)
                Assert.True(t.Data.AsSpan().SequenceEqual(resumed.Weights.Tensors[name].Data), $"{name} differs after resume");
            Assert.Contains(whole.Weights.Tensors, kv => !kv.Value.Data.AsSpan().SequenceEqual(weights.Tensors[kv.Key].Data)); // it trained
        }
        finally { File.Delete(ckA); File.Delete(ckB); }
    }

    /// <summary>With held-out images the history starts with epoch 0, the held-out state before any step; evaluating it
    /// does not change training (the same run's weights with no held-out evaluation would need another split, so the
    /// check is that the epoch-0 values equal an evaluation of the untouched base weights: the trained run's epoch 1
    /// must differ from them).</summary>
    [Fact]
    public void HistoryStartsWithTheHeldOutStateBeforeTraining()
    {
        var weights = PipelineTestData.TinyResNet(8);
        var config = Small with { Epochs = 2, TrainStages = "layer3", LearningRate = 0.05, Holdout = 0.25 };
        var lines = new List<string>();
        FineTuneResult Run(FineTuneConfig c)
        {
            using var backend = new CpuBackend(threads: 2);
            using var task = new RotationTask();
            return new FineTuner(backend, weights, task, c, lines.Add).Run(OrientedImages(8, 3));
        }
        var h = Run(config).History;
        Assert.Equal(config.Epochs + 1, h.Count);
        Assert.Equal(0, h[0].Epoch);
        Assert.True(double.IsNaN(h[0].TrainLoss));
        Assert.Equal(0, h[0].LearningRate);
        Assert.Contains(lines, l => l.StartsWith("epoch 0/2 (before training): held-out loss", StringComparison.Ordinal));
        Assert.Equal([0, 1, 2], h.Select(e => e.Epoch));
        // Learning rate 0: nothing trains, so every epoch's held-out loss equals epoch 0's (the frozen-BN forward).
        var still = Run(config with { LearningRate = 0, MinLearningRate = 0 }).History;
        Assert.Equal(h[0].HeldOutLoss, still[0].HeldOutLoss);
        Assert.All(still, e => Assert.Equal(still[0].HeldOutLoss, e.HeldOutLoss));
        Assert.NotEqual(h[0].HeldOutLoss, h[1].HeldOutLoss);
    }

    [Fact]
    public void RotationLossFalls()
    {
        var weights = PipelineTestData.TinyResNet(8);
        var config = Small with { Epochs = 6, TrainStages = "layer3", LearningRate = 0.05, Holdout = 0 };
        using var backend = new CpuBackend(threads: 2);
        using var task = new RotationTask();
        var result = new FineTuner(backend, weights, task, config).Run(OrientedImages(9, 3));
        var h = result.History;
        TestContext.Current.TestOutputHelper?.WriteLine(string.Join(", ", h.Select(e => $"{e.TrainLoss:F3}")));
        Assert.True(h[^1].TrainLoss < 0.7 * h[0].TrainLoss, $"rotation loss did not fall: {h[0].TrainLoss:F3} → {h[^1].TrainLoss:F3}");
    }

    [Theory]
    [InlineData("batch")]
    [InlineData("none")]
    public void ContrastiveLossFallsAndIsRecordedPerEpoch(string headNorm)
    {
        var weights = PipelineTestData.TinyResNet(8);
        // Mild augmentations and images that differ in colour and layout, so that a tiny net can learn to pair
        // views within a few epochs.
        var config = Small with { Task = "contrastive", Epochs = 6, TrainStages = "layer3", Optimizer = "adamw", LearningRate = 1e-3, WarmupEpochs = 0, Holdout = 0, Batch = 8 };
        using var backend = new CpuBackend(threads: 2);
        using var task = new ContrastiveTask(config.Contrastive() with { ProjectionHidden = 32, ProjectionDim = 16, CutMixNegatives = 2, CropScaleMin = 0.5, ProjectionNorm = headNorm });
        var lines = new List<string>();
        var result = new FineTuner(backend, weights, task, config, lines.Add).Run(DistinctImages(8, 3));
        var h = result.History;
        TestContext.Current.TestOutputHelper?.WriteLine(string.Join(", ", h.Select(e => $"{e.TrainLoss:F3}")));
        Assert.Equal(config.Epochs, h.Count);
        Assert.Equal(config.Epochs, lines.Count(l => l.StartsWith("epoch ", StringComparison.Ordinal) && l.Contains("train loss")));
        Assert.True(h[^1].TrainLoss < 0.9 * h[0].TrainLoss, $"contrastive loss did not fall: {string.Join(", ", h.Select(e => $"{e.TrainLoss:F3}"))}");
    }

    [Fact]
    public void ContrastiveFlagsAreConfigKeysAndAreChecked()
    {
        var c = Small with { Task = "contrastive", Temperature = 0.2, CutMixNegatives = 6, CutMixAreaMax = 0.3 };
        string json = c.ToJson();
        Assert.Contains("\"temperature\":0.2", json);
        Assert.Contains("\"cutmix-negatives\":6", json);
        Assert.Equal(c, FineTuneConfig.FromJson(json, "x.json"));
        Assert.Equal(0.3, c.Contrastive().CutMixAreaMax);
        var e = Assert.Throws<ArgumentException>(() => (c with { CropScaleMin = 0 }).Validate());
        Assert.Contains("--crop-scale-min", e.Message);
        e = Assert.Throws<ArgumentException>(() => (c with { Task = "simclr" }).Validate());
        Assert.Contains("--task", e.Message);
    }

    [Fact]
    public void ConfigJsonNamesAreTheFlagNames()
    {
        var c = Small with { FeaturePenalty = 0.3, Optimizer = "adamw" };
        string json = c.ToJson();
        Assert.Contains("\"feature-penalty\":0.3", json);
        Assert.Contains("\"train-stages\":\"layer2,layer3\"", json);
        Assert.Equal(c, FineTuneConfig.FromJson(json, "x.json"));
        Assert.Throws<InvalidDataException>(() => FineTuneConfig.FromJson("{\"learning_rate\": 1}", "x.json"));
        Assert.Throws<ArgumentException>(() => (c with { Optimizer = "adam" }).Validate());
    }
}
