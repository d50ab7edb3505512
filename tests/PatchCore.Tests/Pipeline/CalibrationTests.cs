using PatchCore.Backends.Cpu;
using PatchCore.Metrics;
using PatchCore.Pipeline;
using PatchCore.Scoring;

namespace PatchCore.Tests.Pipeline;

/// <summary>Decision thresholds: from nominal scores, by leave-one-out against the bank, from a held-out share.</summary>
public class CalibrationTests
{
    [Fact]
    public void NominalThresholdIsTheConformalQuantileAndNormalisesToOneHalf()
    {
        var image = new float[100];
        for (int i = 0; i < 100; i++) image[i] = 100 - i; // 100 .. 1, unsorted order on purpose
        var pixels = new float[] { 0.5f, 0.1f, 0.9f, 0.3f, 0.7f };
        var c = Calibration.FromNominal(image, pixels, 0.05, "test");
        // k = ceil(101 · 0.95) = ceil(95.95) = 96: the 96th of 1..100, promising 1 − 96/101.
        Assert.Equal(96, c.Image.Threshold);
        Assert.Equal(1 - 96.0 / 101, c.PromisedFalseAlarmRate, 12);
        Assert.True(c.PromisedFalseAlarmRate <= 0.05);
        Assert.Equal(1, c.Image.NominalMin);
        Assert.Equal(0.5, c.Image.Normalize(96), 12);
        Assert.Equal(0, c.Image.Normalize(1), 12);
        Assert.Equal(1, c.Image.Normalize(191), 12);
        Assert.True(c.Image.IsAnomalous(96) && !c.Image.IsAnomalous(95.9));
        Assert.Equal(0.9f, (float)c.Pixel.Threshold); // ceil(6 · 0.95) = 6 > 5: the highest pixel
        Assert.Equal(0.1f, (float)c.Pixel.NominalMin);
        Assert.Equal(100, c.NominalImages);
    }

    [Theory]
    [InlineData(99, 0.01, 99)]   // 100 · 0.99 = 99 exactly: not rounded up past n
    [InlineData(213, 0.01, 212)] // ceil(214 · 0.99 = 211.86)
    [InlineData(16, 0.01, 16)]   // too few images for 1%: the highest, promising 1/17
    [InlineData(20, 0, 20)]
    [InlineData(1, 0.5, 1)]
    [InlineData(5_017_600, 0.01, 4_967_425)] // ceil(5017601 · 0.99 = 4967424.99)
    public void ConformalRankIsTheCeilingOfNPlusOneTimesTheCoverage(long n, double alpha, long k)
    {
        Assert.Equal(k, Calibration.ConformalRank(n, alpha));
        Assert.Equal(1 - (double)k / (n + 1), Calibration.Promise(n, alpha), 15);
    }

    /// <summary>The promise is a probability over calibration sets: draw many sets of n nominal scores and a fresh
    /// nominal score each time; the share of fresh scores at or above the threshold must stay within sampling error
    /// of the promise (and not far below it: the bound is tight). Fails if the rank is off by one either way.</summary>
    [Theory]
    [InlineData(19, 0.05)]
    [InlineData(40, 0.1)]
    public void TheThresholdKeepsItsPromiseOnExchangeableScores(int n, double alpha)
    {
        int seed = Environment.TickCount;
        var rng = new Random(seed);
        const int trials = 40_000;
        var scores = new float[n];
        int alarms = 0;
        double promise = 0;
        for (int t = 0; t < trials; t++)
        {
            for (int i = 0; i < n; i++) scores[i] = (float)Math.Exp(rng.NextDouble() * 3); // any continuous law
            var c = Calibration.FromNominal(scores, scores, alpha, "simulation");
            promise = c.PromisedFalseAlarmRate;
            if (c.Image.IsAnomalous((float)Math.Exp(rng.NextDouble() * 3))) alarms++;
        }
        double rate = (double)alarms / trials, sd = Math.Sqrt(promise * (1 - promise) / trials);
        Assert.True(Math.Abs(rate - promise) < 4.5 * sd, $"seed {seed}: false-alarm rate {rate:G4} vs promised {promise:G4} (sd {sd:G3})");
    }

    /// <summary>Random features of 4 "images": scored against a bank holding its own rows a training image scores
    /// 0, so a positive leave-one-out score shows its own rows were left out, and it must be the brute-force
    /// distance to the other images' rows. Clustered on a 6x6 grid, an image's 36 own rows fill all 32 neighbours
    /// the k-NN op returns, which takes the exact per-image path; otherwise the one-call path.</summary>
    [Theory]
    [InlineData(1.0, false)]
    [InlineData(0.5, false)]
    [InlineData(1.0, true)]
    [InlineData(0.7, true)]
    public void LeaveOneOutScoresEachImageWithoutItsOwnBankRows(double coreset, bool clustered)
    {
        int images = 4, gh = clustered ? 6 : 2, gw = gh, dim = 8, per = gh * gw;
        var rng = new Random(3);
        var all = new float[images * per * dim];
        for (int i = 0; i < all.Length; i++)
            all[i] = clustered ? i / (per * dim) * 10 + 0.01f * (float)rng.NextDouble() : (float)rng.NextDouble();
        var config = PipelineTestData.TinyConfig(coreset) with { ProjectionDim = 4, StartPoints = 1, FalseAlarmRate = 0 };
        using var cpu = new CpuBackend(2);
        using var model = PatchCoreModel.Fit(cpu, config, all, images * per, dim, gh, gw, "id", images);
        Assert.Equal(coreset < 1, model.SelectedRows != null);
        var f = new TrainFeatures(all, images, gh, gw, dim);
        var runner = new Runner(cpu, config);

        // The premise: image 0 has rows in the bank (with all of them, it scores 0 against the full bank).
        Assert.Contains(model.SelectedRows ?? Enumerable.Range(0, images * per).ToArray(), r => r / per == 0);
        if (coreset >= 1) Assert.True(model.Score(cpu, all[..(per * dim)], 1).Image[0] <= 1e-5f);

        var c = runner.CalibrateLeaveOneOut(model, f, count: 1)!; // image 0 only: threshold = its score
        var selected = model.SelectedRows ?? Enumerable.Range(0, images * per).ToArray();
        double expected = 0;
        for (int p = 0; p < per; p++)
        {
            double best = double.MaxValue;
            foreach (int r in selected)
            {
                if (r / per == 0) continue; // image 0's own rows
                double d = 0;
                for (int k = 0; k < dim; k++) { double x = all[p * dim + k] - all[r * dim + k]; d += x * x; }
                best = Math.Min(best, d);
            }
            expected = Math.Max(expected, best);
        }
        Assert.True(c.Image.Threshold > 0, "image 0 was scored against its own rows");
        Assert.Equal(expected, c.Image.Threshold, clustered ? 1 : 3);
        if (clustered) Assert.True(expected > 50); // the nearest other image is 10 away in each of 8 dims
        Assert.Equal(1, c.NominalImages);
        Assert.Contains("leave-one-out", c.Source);

        var every = runner.CalibrateLeaveOneOut(model, f, count: 16)!; // capped at the 4 images
        Assert.Equal(images, every.NominalImages);
        Assert.True(every.Image.NominalMin > 0);
        Assert.Null(runner.CalibrateLeaveOneOut(model, f, count: 0));
    }

    /// <summary>More images than one k-NN chunk (16): every image's leave-one-out score, chunk by chunk, equals the
    /// brute-force distance to the other images' bank rows (checked through the lowest and highest of the 40, which
    /// with false-alarm rate 0 are the normalisation floor and the threshold).</summary>
    [Fact]
    public void LeaveOneOutOverSeveralChunksScoresEveryImageAsBruteForce()
    {
        int images = 40, gh = 2, gw = 2, dim = 6, per = gh * gw;
        int seed = Environment.TickCount;
        var rng = new Random(seed);
        var all = new float[images * per * dim];
        for (int i = 0; i < all.Length; i++) all[i] = (float)rng.NextDouble();
        var config = PipelineTestData.TinyConfig(0.5) with { ProjectionDim = 4, StartPoints = 1, FalseAlarmRate = 0 };
        using var cpu = new CpuBackend(2);
        using var model = PatchCoreModel.Fit(cpu, config, all, images * per, dim, gh, gw, "id", images);
        var c = new Runner(cpu, config).CalibrateLeaveOneOut(model, new TrainFeatures(all, images, gh, gw, dim), count: images)!;
        var selected = model.SelectedRows!;
        double lowest = double.MaxValue, highest = 0;
        for (int img = 0; img < images; img++)
        {
            double score = 0;
            for (int p = 0; p < per; p++)
            {
                double best = double.MaxValue;
                foreach (int r in selected)
                {
                    if (r / per == img) continue;
                    double d = 0;
                    for (int k = 0; k < dim; k++) { double x = all[(img * per + p) * dim + k] - all[r * dim + k]; d += x * x; }
                    best = Math.Min(best, d);
                }
                score = Math.Max(score, best);
            }
            lowest = Math.Min(lowest, score);
            highest = Math.Max(highest, score);
        }
        Assert.Equal(images, c.NominalImages);
        Assert.True(Math.Abs(highest - c.Image.Threshold) <= 1e-4 * highest, $"seed {seed}: threshold {c.Image.Threshold} vs {highest}");
        Assert.True(Math.Abs(lowest - c.Image.NominalMin) <= 1e-4 * highest, $"seed {seed}: floor {c.Image.NominalMin} vs {lowest}");
    }

    [Fact]
    public void FitByDefaultKeepsEveryImageInTheBankAndCalibratesOnAllOfThem()
    {
        PipelineTestData.TinyCategory(out var data);
        var weights = PipelineTestData.TinyResNet(2, "tiny");
        using var cpu = new CpuBackend(2);
        var config = PipelineTestData.TinyConfig(coreset: 1.0);
        Assert.Equal(0, new PatchCoreConfig().Calibration);
        Assert.Null(new PatchCoreConfig().CalibrationImages);
        var runner = new Runner(cpu, config with { Calibration = 0, CalibrationImages = null });
        var (w, net) = runner.LoadBackbone(weights);
        using var _ = net;
        using var model = runner.FitCalibrated(net, w, data.TrainImages);
        Assert.Equal(data.TrainImages.Count, model.TrainImages);
        Assert.Equal(data.TrainImages.Count, model.Calibration!.NominalImages);
        Assert.Contains("leave-one-out", model.Calibration.Source);
    }

    [Fact]
    public void HeldOutShareIsSeededDisjointAndOrdered()
    {
        var train = Enumerable.Range(0, 20).Select(i => $"t{i:D2}.png").ToList();
        var (bank, held) = Runner.SplitHeldOut(train, 0.1, seed: 0);
        Assert.Equal(2, held.Count);
        Assert.Equal(18, bank.Count);
        Assert.Empty(bank.Intersect(held));
        Assert.Equal(held.Order(StringComparer.Ordinal), held);
        Assert.Equal(held, Runner.SplitHeldOut(train, 0.1, seed: 0).HeldOut);
        Assert.NotEqual(held, Runner.SplitHeldOut(train, 0.1, seed: 5).HeldOut);
        Assert.Single(Runner.SplitHeldOut(train[..3], 0.1, 0).HeldOut); // at least one image
        Assert.Throws<InvalidDataException>(() => Runner.SplitHeldOut(train[..1], 0.5, 0));
    }

    [Fact]
    public void FitWithCalibrationShareLeavesTheHeldOutImagesOutOfTheBank()
    {
        PipelineTestData.TinyCategory(out var data);
        var weights = PipelineTestData.TinyResNet(2, "tiny");
        using var cpu = new CpuBackend(2);
        var config = PipelineTestData.TinyConfig(coreset: 1.0) with { Calibration = 0.25, FalseAlarmRate = 0 };
        var runner = new Runner(cpu, config);
        var (w, net) = runner.LoadBackbone(weights);
        using var _ = net;
        using var model = runner.FitCalibrated(net, w, data.TrainImages);
        var held = Runner.SplitHeldOut(data.TrainImages, 0.25, config.Seed).HeldOut;
        Assert.Equal(2, held.Count);
        Assert.Equal(data.TrainImages.Count - 2, model.TrainImages);
        Assert.Equal(model.TrainImages * model.GridH * model.GridW, model.BankRows); // coreset 1: every bank image's rows
        var c = model.Calibration!;
        Assert.Equal(2, c.NominalImages);
        Assert.Contains("held-out", c.Source);
        // In the bank, an image would score 0 (coreset 1 keeps all its rows); held out, it scores above 0, and
        // with false-alarm rate 0 the threshold is the higher of the two.
        var o = runner.Score(model, net, w, held, keepCrops: false);
        Assert.All(o.ImageScores, s => Assert.True(s > 0));
        Assert.Equal(o.ImageScores.Max(), (float)c.Image.Threshold);
        var inBank = runner.Score(model, net, w, data.TrainImages.Except(held).Take(1).ToList(), keepCrops: false);
        Assert.True(inBank.ImageScores[0] <= 1e-3f);
    }

    [Fact]
    public void FitWithACalibrationFolderOrShareZeroKeepsEveryTrainingImageInTheBank()
    {
        PipelineTestData.TinyCategory(out var data);
        var weights = PipelineTestData.TinyResNet(2, "tiny");
        using var cpu = new CpuBackend(2);
        var good = data.TestSamples.Where(t => !t.IsAnomalous).Select(t => t.Path).ToList();
        var runner = new Runner(cpu, PipelineTestData.TinyConfig(coreset: 1.0));
        var (w, net) = runner.LoadBackbone(weights);
        using var _ = net;
        using (var model = runner.FitCalibrated(net, w, data.TrainImages, good, "folder test/good"))
        {
            Assert.Equal(data.TrainImages.Count, model.TrainImages);
            Assert.Equal(good.Count, model.Calibration!.NominalImages);
            Assert.Equal("folder test/good", model.Calibration.Source);
        }
        var loo = new Runner(cpu, PipelineTestData.TinyConfig(coreset: 1.0) with { Calibration = 0, CalibrationImages = 3 });
        using (var model = loo.FitCalibrated(net, w, data.TrainImages))
        {
            Assert.Equal(data.TrainImages.Count, model.TrainImages);
            Assert.Equal(3, model.Calibration!.NominalImages);
            Assert.Contains("leave-one-out", model.Calibration.Source);
        }
    }

    [Fact]
    public void PixelF1MaxAgreesWithF1MaxAndDecisionCountsAddUp()
    {
        var rng = new Random(1);
        var values = new float[500];
        var labels = new bool[500];
        for (int i = 0; i < values.Length; i++) { labels[i] = rng.Next(4) == 0; values[i] = (float)Math.Round(rng.NextDouble() + (labels[i] ? 0.4 : 0), 2); }
        Assert.Equal(F1Max.Compute(values, labels), PixelF1Max.Compute(values, labels));

        var d = DecisionCounts.Compute([1f, 2f, 3f, 4f], [false, true, false, true], new ScoreThreshold(3, 0, "t"));
        Assert.Equal((1, 1, 1, 1), (d.TruePositives, d.FalsePositives, d.TrueNegatives, d.FalseNegatives));
        Assert.Equal(0.5, d.FalseAlarmRate);
        Assert.Equal(0.5, d.MissRate);
        Assert.Equal(0.5, d.Accuracy);
    }
}
