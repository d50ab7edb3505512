using PatchCore.Backbone;
using PatchCore.Backends;
using PatchCore.Backends.Cpu;
using PatchCore.Data;
using PatchCore.Features;
using PatchCore.Pipeline;

namespace PatchCore.Tests;

/// <summary>
/// The GPU issue's whole-run criterion at test size: features, coreset, scoring and maps of a small synthetic
/// category on a GPU backend give the cpu backend's image scores within 1e-3 relative. Same seed, so the same
/// coreset: the two memory banks must hold the same rows in the same order. Runs on ILGPU's CPU accelerator in
/// CI; on ILGPU-on-CUDA and the native CUDA backend where there is a GPU. (tools/device/check.sh also compares
/// whole transistor runs there.)
/// </summary>
public static class WholeRunComparison
{
    public static void AssertMatchesCpu(IBackend gpu)
    {
        // Small enough for the CPU accelerator's simulated threads: 9 images, 32x32 crops, 4x4 patch grids.
        string root = TestPaths.TempDir();
        SyntheticDataset.Ensure(root, "demo", new SyntheticDataset.Options(Train: 5, TestGood: 2, TestDefect: 2, Size: 48, Seed: 2));
        var data = MvtecDataset.Open(root, "demo");
        var weights = PipelineTestData.TinyResNet(4, "tiny");
        var config = PipelineTestData.TinyConfig(coreset: 0.25) with { Resize = 40, Crop = 32 };
        var tests = data.TestSamples.Select(t => t.Path).ToList();

        (float[] Train, PatchCoreModel Model, ModelScores Scores, float[] Maps) Run(IBackend b)
        {
            using var net = ResNet.Load(b, weights);
            var ex = new PatchFeatureExtractor(b, net, config.ResizeSpec, weights.Metadata.ToNormalization(), config.AggregationSpec, 4, 2);
            var train = ex.Extract(data.TrainImages).SelectMany(f => f.Features).ToArray();
            var test = ex.Extract(tests).SelectMany(f => f.Features).ToArray();
            int rows = train.Length / config.TargetDim, grid = (int)Math.Sqrt(rows / data.TrainImages.Count);
            var model = PatchCoreModel.Fit(b, config, train, rows, config.TargetDim, grid, grid, "tiny", data.TrainImages.Count);
            var scores = model.Score(b, test, tests.Count);
            return (train, model, scores, model.Maps(b, scores, config.Crop, config.Crop));
        }

        using var cpu = new CpuBackend(2);
        var c = Run(cpu);
        var g = Run(gpu);
        using (c.Model)
        using (g.Model)
        {
            Assert.Equal(4 * 4 * data.TrainImages.Count * config.TargetDim, c.Train.Length);
            Assert.True(BackendSelfCheck.Error(g.Train, c.Train) <= 1e-4, $"train features: error {BackendSelfCheck.Error(g.Train, c.Train):E2}");
            Assert.Equal(c.Model.BankRows, g.Model.BankRows);
            Assert.True(BackendSelfCheck.Error(g.Model.Bank, c.Model.Bank) <= 1e-4,
                $"memory banks differ (another coreset): error {BackendSelfCheck.Error(g.Model.Bank, c.Model.Bank):E2}");
            for (int i = 0; i < c.Scores.Image.Length; i++)
                Assert.True(Math.Abs(g.Scores.Image[i] - c.Scores.Image[i]) <= 1e-3 * Math.Abs(c.Scores.Image[i]),
                    $"image {i}: {gpu.Name} {g.Scores.Image[i]} vs cpu {c.Scores.Image[i]}");
            Assert.True(BackendSelfCheck.Error(g.Maps, c.Maps) <= 1e-3, $"anomaly maps: error {BackendSelfCheck.Error(g.Maps, c.Maps):E2}");
        }
    }
}
