using System.Text.Json.Nodes;
using PatchCore.Backbone;
using PatchCore.Backends.Cpu;
using PatchCore.Backends.Reference;
using PatchCore.Data;
using PatchCore.Features;
using PatchCore.IO;
using PatchCore.Pipeline;

namespace PatchCore.Tests;

/// <summary>Whole runs on a tiny synthetic category with a tiny random-weight ResNet on the cpu backend.</summary>
public class PipelineEndToEndTests
{
    static (float[] Features, int Rows, int Dim, int Gh, int Gw) Extract(PatchFeatureExtractor ex, IReadOnlyList<string> paths)
    {
        var parts = ex.Extract(paths).ToList();
        int dim = parts[0].Dim, gh = parts[0].GridH, gw = parts[0].GridW;
        var all = parts.SelectMany(p => p.Features).ToArray();
        Assert.Equal(paths.Count, parts.Sum(p => p.Count));
        return (all, paths.Count * gh * gw, dim, gh, gw);
    }

    /// <summary>The run's feature path must feed the backbone what `pcnative features` (and every other
    /// implementation) feeds it: the image resized and centre-cropped once. A second resize-and-crop of the
    /// crop (resize 64 → crop 56 → resize 64 → crop 56 here) cost magnetic_tile 7 points of image AUROC.</summary>
    [Fact]
    public void ExtractorFeedsTheBackboneTheImageResizedAndCroppedOnce()
    {
        PipelineTestData.TinyCategory(out var data);
        var weights = PipelineTestData.TinyResNet(2, "tiny");
        var config = PipelineTestData.TinyConfig();
        Assert.NotEqual(config.Resize, config.Crop); // a crop that differs from the resize, or the test proves nothing
        var norm = weights.Metadata.ToNormalization();
        using var cpu = new CpuBackend(2);
        using var net = ResNet.Load(cpu, weights);
        var ex = new PatchFeatureExtractor(cpu, net, config.ResizeSpec, norm, config.AggregationSpec, 2, 2);
        var paths = data.TrainImages.Take(3).ToList();
        var got = Extract(ex, paths);
        int per = got.Gh * got.Gw;
        for (int i = 0; i < paths.Count; i++)
        {
            float[] input = Preprocessing.ToInput(ImageFile.Decode(paths[i]), config.ResizeSpec, norm);
            using var x = cpu.Upload(input, 1, 3, config.Crop, config.Crop);
            var maps = net.Forward(x, "layer2", "layer3");
            try
            {
                using var f = cpu.AggregatePatchFeatures(maps[0], maps[1], config.AggregationSpec);
                var expected = new float[f.Length];
                cpu.Download(f, expected);
                var actual = got.Features.AsSpan(i * per * got.Dim, per * got.Dim).ToArray();
                BackendOpsTestKit.AssertClose(actual, expected, 1e-5, $"{Path.GetFileName(paths[i])}: extractor vs resize+crop once");
            }
            finally { foreach (var m in maps) m.Dispose(); }
        }
    }

    [Fact]
    public void FullBankScoresEqualExactNearestNeighbourDistances()
    {
        PipelineTestData.TinyCategory(out var data);
        var weights = PipelineTestData.TinyResNet(1, "tiny");
        var config = PipelineTestData.TinyConfig(coreset: 1.0);
        using var cpu = new CpuBackend(2);
        using var reference = new ReferenceBackend();
        using var net = ResNet.Load(cpu, weights);
        var ex = new PatchFeatureExtractor(cpu, net, config.ResizeSpec, weights.Metadata.ToNormalization(), config.AggregationSpec, 3, 2);
        var train = Extract(ex, data.TrainImages);
        var tests = data.TestSamples.Select(t => t.Path).ToList();
        var test = Extract(ex, tests);
        Assert.Equal((64, 7, 7), (train.Dim, train.Gh, train.Gw));
        Assert.All(train.Features, v => Assert.True(float.IsFinite(v)));

        using var model = PatchCoreModel.Fit(cpu, config, train.Features, train.Rows, train.Dim, train.Gh, train.Gw, "tiny", data.TrainImages.Count);
        Assert.Equal(train.Rows, model.BankRows);
        var scores = model.Score(cpu, test.Features, tests.Count);

        using var q = reference.Upload(test.Features, test.Rows, test.Dim);
        using var db = reference.Upload(train.Features, train.Rows, train.Dim);
        using var d = reference.PairwiseSquaredDistances(q, db);
        var dist = new float[d.Length];
        reference.Download(d, dist);
        int per = train.Gh * train.Gw;
        for (int n = 0; n < tests.Count; n++)
        {
            double imageMax = double.NegativeInfinity;
            for (int p = 0; p < per; p++)
            {
                int r = n * per + p;
                double min = double.PositiveInfinity;
                for (int j = 0; j < train.Rows; j++) min = Math.Min(min, dist[(long)r * train.Rows + j]);
                Assert.True(Math.Abs(scores.Patch[r] - min) <= 1e-4 * Math.Max(1.0, min), $"patch {r}: {scores.Patch[r]} vs exact {min}");
                imageMax = Math.Max(imageMax, min);
            }
            Assert.True(Math.Abs(scores.Image[n] - imageMax) <= 1e-4 * Math.Max(1.0, imageMax), $"image {n}: {scores.Image[n]} vs {imageMax}");
        }
        // A training image scores ~0 against a bank holding all its patches.
        var again = model.Score(cpu, train.Features[..(per * train.Dim)], 1);
        Assert.True(again.Image[0] <= 1e-3f * Math.Max(1f, scores.Image.Max()), $"train image scored {again.Image[0]}");
    }

    [Fact]
    public void RunWritesResultsScoresAndHeatmapsWithEveryMetric()
    {
        PipelineTestData.TinyCategory(out var data);
        var weights = PipelineTestData.TinyResNet(2, "tiny");
        using var cpu = new CpuBackend(2);
        string outDir = Path.Combine(TestPaths.TempDir(), "out");
        var runner = new Runner(cpu, PipelineTestData.TinyConfig(coreset: 0.25));
        var model = Path.Combine(outDir, "m.pcm");
        var r = runner.Run(data, outDir, heatmaps: true, weights: weights, modelPath: model);

        Assert.Equal(data.TrainImages.Count, r.NTrain);
        Assert.Equal(6, r.NTest);
        Assert.Equal((int)(r.FeatureRows * 0.25), r.BankSize);
        foreach (var k in new[] { "image_auroc", "pixel_auroc", "aupro", "f1_max" })
            Assert.InRange(r.Metrics[k], 0.0, 1.0);

        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")))!;
        Assert.Equal("demo", (string)json["category"]!);
        Assert.Equal(0.25, (double)json["config"]!["coreset"]!);
        Assert.Equal(r.BankSize, (int)json["bank_size"]!);
        Assert.Equal("cpu", (string)json["backend"]!);
        foreach (var k in new[] { "load", "features", "coreset", "scoring", "maps", "total" })
            Assert.True((double)json["timings_s"]![k]! >= 0);
        Assert.NotNull(json["metrics"]!["pixel_auroc"]);

        var lines = File.ReadAllLines(Path.Combine(outDir, "scores.csv"));
        Assert.Equal("path,defect_type,truth,score,normalized_score,label", lines[0]);
        Assert.Equal(7, lines.Length);
        Assert.Contains(lines, l => l.StartsWith("test/good/000.png,good,0,", StringComparison.Ordinal));
        var maps = Directory.GetFiles(Path.Combine(outDir, "heatmaps"), "*.png", SearchOption.AllDirectories);
        Assert.Equal(6, maps.Length);
        var png = StbImageSharp.ImageResult.FromMemory(File.ReadAllBytes(maps[0]), StbImageSharp.ColorComponents.RedGreenBlue);
        // Caption above and colour bar beside the two 56x56 panels (Report/Heatmap.cs lays them out).
        Assert.True(png.Width > 2 * 56 + 4 && png.Height > 56, $"{png.Width}x{png.Height}");
        Assert.Equal(r.BankSize, ModelFile.Load(model).BankRows);
    }

    [Fact]
    public void UnreadableImageFailsNamingTheFile()
    {
        string root = PipelineTestData.TinyCategory(out _);
        string bad = Path.Combine(root, "demo", "train", "good", "zz_broken.png");
        File.WriteAllBytes(bad, [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
        var data = MvtecDataset.Open(root, "demo");
        using var cpu = new CpuBackend(2);
        var runner = new Runner(cpu, PipelineTestData.TinyConfig());
        var e = Assert.ThrowsAny<Exception>(() => runner.Run(data, Path.Combine(root, "out"), weights: PipelineTestData.TinyResNet(1)));
        Assert.True(e is InvalidDataException or IOException, e.GetType().Name + ": " + e.Message);
        Assert.Contains("zz_broken.png", e.Message);
        Assert.False(File.Exists(Path.Combine(root, "out", "results.json")));
    }
}
