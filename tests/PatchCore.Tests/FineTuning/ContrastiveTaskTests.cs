using PatchCore.Backbone;
using PatchCore.Backends;
using PatchCore.Backends.Cpu;
using PatchCore.FineTuning;

namespace PatchCore.Tests.FineTuning;

/// <summary>The contrastive task on its own: batches (rows, determinism, held-out reproducibility), the feature
/// gradient against a finite difference, and its loss falling over a few steps on tiny synthetic features.</summary>
public class ContrastiveTaskTests
{
    static readonly ContrastiveOptions Small = new() { ProjectionHidden = 16, ProjectionDim = 8, CutMixNegatives = 3, Temperature = 0.5 };

    static NominalImage[] Images(int count, int h, int w, int seed)
    {
        var rng = new Random(seed);
        var list = new NominalImage[count];
        for (int i = 0; i < count; i++)
        {
            var p = new float[3 * h * w];
            for (int k = 0; k < p.Length; k++) p[k] = (float)(rng.NextDouble() * 4 - 2);
            list[i] = new NominalImage(p, h, w, $"img{i}.png");
        }
        return list;
    }

    [Fact]
    public void BatchesHaveTwoViewsPerImagePlusCutMixAndAreSeeded()
    {
        using var task = new ContrastiveTask(Small);
        var images = Images(4, 16, 16, 1);
        var a = task.MakeBatch(images, new Random(5), training: true);
        var b = task.MakeBatch(images, new Random(5), training: true);
        var c = task.MakeBatch(images, new Random(6), training: true);
        Assert.Equal(2 * 4 + 3, a.Rows);
        Assert.Equal(a.Input, b.Input);
        Assert.NotEqual(a.Input, c.Input);
        // Held out: no CutMix, and the same views whatever RNG the trainer passes.
        var h1 = task.MakeBatch(images, new Random(5), training: false);
        var h2 = task.MakeBatch(images, new Random(99), training: false);
        Assert.Equal(8, h1.Rows);
        Assert.Equal(h1.Input, h2.Input);
    }

    [Fact]
    public void IdentityAugmentationsGiveTheImagesBackAsViews()
    {
        var identity = Small with { CropScaleMin = 1, CropScaleMax = 1, CropRatioMin = 1, CropRatioMax = 1, FlipProbability = 0,
            Brightness = 0, Contrast = 0, Saturation = 0, CutMixNegatives = 0 };
        using var task = new ContrastiveTask(identity);
        var images = Images(2, 8, 8, 2);
        var batch = task.MakeBatch(images, new Random(3), training: true);
        int n = 3 * 8 * 8;
        for (int row = 0; row < 4; row++)
            Assert.Equal(images[row % 2].Planes, batch.Input.AsSpan(row * n, n).ToArray());
    }

    [Fact]
    public void BadOptionsNameTheirFlag()
    {
        var e = Assert.Throws<ArgumentException>(() => new ContrastiveTask(Small with { Temperature = 0 }));
        Assert.Contains("--temperature", e.Message);
        e = Assert.Throws<ArgumentException>(() => new ContrastiveTask(Small with { CutMixAreaMin = 0.5, CutMixAreaMax = 0.2 }));
        Assert.Contains("--cutmix-area-max", e.Message);
    }

    /// <summary>A tiny batch's features [rows, C, 2, 2] as a tensor, and the task initialised for C channels.</summary>
    static (DeviceTensor Features, FineTuneBatch Batch) Setup(ITrainingBackend backend, ContrastiveTask task, int seed)
    {
        task.Initialize(backend, 6, new Random(seed));
        var batch = task.MakeBatch(Images(3, 8, 8, seed), new Random(seed), training: true);
        var rng = new Random(seed + 1);
        var f = new float[batch.Rows * 6 * 4];
        for (int i = 0; i < f.Length; i++) f[i] = (float)(rng.NextDouble() * 2 - 1);
        return (backend.Upload(f, batch.Rows, 6, 2, 2), batch);
    }

    /// <summary>The analytic gradient along a random direction against a central difference, for the features and
    /// for every head parameter (the BatchNorm1d's γ and β with head-norm "batch").</summary>
    [Theory]
    [InlineData("batch")]
    [InlineData("none")]
    public void FeatureAndHeadGradientsMatchFiniteDifferences(string headNorm)
    {
        using var backend = new CpuBackend(threads: 1);
        using var task = new ContrastiveTask(Small with { ProjectionNorm = headNorm });
        var (features, batch) = Setup(backend, task, 21);
        using var _ = features;
        Assert.Equal(headNorm == "batch" ? 5 : 4, task.Parameters.Count);
        var (result, grad) = task.Loss(backend, features, batch, gradient: true);
        using var g = grad!;
        Assert.Equal(6, result.Total);
        double Loss() => task.Loss(backend, features, batch, gradient: false).Result.Loss;
        var rng = new Random(22);
        CheckDirection("features", ((HostDeviceTensor)features).Data, Read(backend, g), Loss, rng);
        foreach (var p in task.Parameters)
            CheckDirection(p.Name, ((HostDeviceTensor)p.Value).Data, Read(backend, p.Gradient!), Loss, rng);
    }

    static float[] Read(IBackend b, DeviceTensor t)
    {
        var a = new float[t.Length];
        b.Download(t, a);
        return a;
    }

    /// <summary>Moves <paramref name="values"/> in place by ±eps along a random direction (and back) and compares the
    /// central difference of the loss with gradient · direction.</summary>
    static void CheckDirection(string what, float[] values, float[] gradient, Func<double> loss, Random rng)
    {
        // A random direction plus the gradient's own (scaled to the same size): never orthogonal to the gradient, so
        // the difference is not lost in float32 rounding, while the random part still tests every component.
        double norm = 0;
        foreach (float v in gradient) norm = Math.Max(norm, Math.Abs(v));
        var dir = new float[gradient.Length];
        for (int i = 0; i < dir.Length; i++) dir[i] = (float)(rng.NextDouble() * 2 - 1 + (norm > 0 ? gradient[i] / norm : 0));
        var saved = (float[])values.Clone();
        double At(double t)
        {
            for (int i = 0; i < dir.Length; i++) values[i] = saved[i] + (float)t * dir[i];
            return loss();
        }
        const double eps = 2e-3;   // small enough that few ReLU kinks are crossed, large for float32's loss rounding
        double numeric = (At(eps) - At(-eps)) / (2 * eps), analytic = 0;
        saved.CopyTo(values, 0);
        for (int i = 0; i < gradient.Length; i++) analytic += gradient[i] * dir[i];
        Assert.False(double.IsNaN(analytic), $"{what}: NaN gradient");
        Assert.True(Math.Abs(numeric) > 1e-3, $"{what}: degenerate direction: {numeric}");
        Assert.True(Math.Abs(analytic - numeric) <= 0.03 * Math.Abs(numeric) + 1e-4, $"{what}: analytic {analytic} vs numeric {numeric}");
    }

    [Fact]
    public void LossFallsOverAFewStepsOfTheHeadAndFeatures()
    {
        using var backend = new CpuBackend(threads: 1);
        using var task = new ContrastiveTask(Small);
        var (features, batch) = Setup(backend, task, 31);
        var momenta = new List<DeviceTensor>();
        foreach (var p in task.Parameters) momenta.Add(backend.Upload(new float[p.Value.Length], p.Value.Shape));
        using var featureMomentum = backend.Upload(new float[features.Length], features.Shape);
        var losses = new List<double>();
        for (int step = 0; step < 8; step++)
        {
            foreach (var p in task.Parameters) p.ClearGradient();
            var (result, grad) = task.Loss(backend, features, batch, gradient: true);
            losses.Add(result.Loss);
            using var g = grad!;
            for (int i = 0; i < task.Parameters.Count; i++)
                backend.SgdStep(task.Parameters[i].Value, task.Parameters[i].Gradient!, momenta[i], new SgdOptions(0.9), 0.5);
            backend.SgdStep(features, g, featureMomentum, new SgdOptions(0.9), 0.5);
        }
        features.Dispose();
        foreach (var m in momenta) m.Dispose();
        Assert.True(losses[^1] < losses[0] - 0.1, $"loss did not fall: {string.Join(", ", losses)}");
    }
}
