using System.Text.Json.Nodes;
using PatchCore.Backends.Cpu;
using PatchCore.Pipeline;
using PatchCore.Report;

namespace PatchCore.Tests.Pipeline;

/// <summary>Decisions in every output: run's and predict's scores.csv, masks, raw maps, results.json, bad images.</summary>
[Collection("Console")]
public class DecisionOutputTests
{
    static (int Code, string Out, string Err) Cli(params string[] args) => Reliability.CliRunner.Run(args);

    [Fact]
    public void RunWritesDecisionColumnsMasksMapsAndTheCalibrationAndDecisionsBlocks()
    {
        PipelineTestData.TinyCategory(out var data);
        using var cpu = new CpuBackend(2);
        string outDir = Path.Combine(TestPaths.TempDir(), "out");
        var runner = new Runner(cpu, PipelineTestData.TinyConfig(coreset: 0.25) with { CalibrationImages = 4 });
        var r = runner.Run(data, outDir, heatmaps: false, weights: PipelineTestData.TinyResNet(2, "tiny"));

        var lines = File.ReadAllLines(Path.Combine(outDir, "scores.csv"));
        Assert.Equal("path,defect_type,truth,score,normalized_score,label", lines[0]);
        Assert.Equal(1 + r.NTest, lines.Length);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")))!;
        double threshold = (double)json["calibration"]!["image"]!["threshold"]!;
        Assert.Equal(4, (int)json["calibration"]!["n_images"]!);
        Assert.Contains("leave-one-out", (string)json["calibration"]!["source"]!);
        Assert.NotNull(json["calibration"]!["image_f1"]);
        Assert.NotNull(json["calibration"]!["pixel_f1"]);
        int called = 0, wrongGood = 0, good = 0;
        for (int i = 1; i < lines.Length; i++)
        {
            var c = lines[i].Split(',');
            Assert.Equal(c[0].Split('/')[1], c[1]); // test/<defect_type>/<name>
            Assert.Equal(c[1] == "good" ? "0" : "1", c[2]);
            float score = float.Parse(c[3], System.Globalization.CultureInfo.InvariantCulture);
            int label = score >= threshold ? 1 : 0;
            Assert.Equal(label.ToString(), c[5]);
            Assert.InRange(double.Parse(c[4], System.Globalization.CultureInfo.InvariantCulture), 0, 1);
            called += label;
            if (c[1] == "good") { good++; wrongGood += label; }
            string stem = c[1] + "/" + Path.GetFileNameWithoutExtension(c[0]);
            Assert.True(File.Exists(Path.Combine(outDir, "masks", stem + ".png")), stem);
            Assert.True(File.Exists(Path.Combine(outDir, "maps", stem + ".npy")), stem);
        }
        var d = json["decisions"]!;
        Assert.Equal(wrongGood, (int)d["counts"]!["false_positives"]!);
        Assert.Equal((double)wrongGood / good, (double)d["false_alarm_rate"]!, 6);
        Assert.Equal(called, (int)d["counts"]!["true_positives"]! + (int)d["counts"]!["false_positives"]!);

        // --calibration-images 0: no calibration, so no decision anywhere and no masks.
        string bare = Path.Combine(TestPaths.TempDir(), "bare");
        new Runner(cpu, PipelineTestData.TinyConfig(coreset: 0.25) with { CalibrationImages = 0 })
            .Run(data, bare, heatmaps: false, weights: PipelineTestData.TinyResNet(2, "tiny"));
        Assert.All(File.ReadAllLines(Path.Combine(bare, "scores.csv")).Skip(1), l => Assert.EndsWith(",,", l));
        Assert.Null(JsonNode.Parse(File.ReadAllText(Path.Combine(bare, "results.json")))!["calibration"]);
        Assert.False(Directory.Exists(Path.Combine(bare, "masks")));
        Assert.True(Directory.Exists(Path.Combine(bare, "maps")));
    }

    [Fact]
    public void PredictWithACalibratedModelLabelsEveryImageAndMirrorsInputPaths()
    {
        string root = PipelineTestData.TinyCategory(out var data);
        using var cpu = new CpuBackend(2);
        var weights = PipelineTestData.TinyResNet(2, "tiny");
        var runner = new Runner(cpu, PipelineTestData.TinyConfig(coreset: 0.5) with { Calibration = 0.25 });
        var (w, net) = runner.LoadBackbone(weights);
        using var _ = net;
        using var model = runner.FitCalibrated(net, w, data.TrainImages);
        Assert.NotNull(model.Calibration);

        var images = data.TestSamples.Select(s => s.Path).ToList();
        var rel = data.TestSamples.Select(s => OutputNames.ForInput(s.Path, Path.Combine(root, "demo", "test"))).ToList();
        rel[1] = rel[0]; // a collision: the later one gets _2
        string outDir = Path.Combine(root, "pred");
        var result = new Runner(cpu, model.Config).Predict(model, images, outDir, heatmaps: true, weights: weights, relativePaths: rel);
        Assert.Empty(result.Errors);
        var lines = File.ReadAllLines(Path.Combine(outDir, "scores.csv"));
        Assert.Equal(ScoresCsv.PredictHeader, lines[0]);
        Assert.Equal(1 + images.Count, lines.Length);
        string first = Path.ChangeExtension(rel[0], null); // test/<defect type>/<name>
        Assert.EndsWith(",heatmaps/" + first + ".png", lines[1]);
        Assert.EndsWith(",heatmaps/" + first + "_2.png", lines[2]);
        for (int i = 1; i < lines.Length; i++)
        {
            var c = lines[i].Split(',');
            Assert.Equal(images[i - 1], c[0]);
            float score = float.Parse(c[1], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(model.Calibration!.Image.IsAnomalous(score) ? "1" : "0", c[3]);
            Assert.True(File.Exists(Path.Combine(outDir, c[4])), c[4]);
            string stem = c[4]["heatmaps/".Length..^4];
            Assert.True(File.Exists(Path.Combine(outDir, "masks", stem + ".png")), stem);
            Assert.True(File.Exists(Path.Combine(outDir, "maps", stem + ".npy")), stem);
        }
    }

    [Fact]
    public void PredictScoresEveryGoodFileListsTheTruncatedOneInErrorsCsvAndExitsOne()
    {
        string root = PipelineTestData.TinyCategory(out _);
        string wa = Path.Combine(root, "a.safetensors");
        PipelineTestData.TinyResNet(1).Save(wa);
        string model = Path.Combine(root, "m.pcm");
        string[] tiny = ["--backend", "cpu", "--threads", "2", "--resize", "64", "--crop", "56", "--pretrain-dim", "64",
            "--target-dim", "64", "--coreset", "0.5", "--projection-dim", "16", "--batch-size", "2"];
        var fit = Cli(["fit", "--data-root", root, "--category", "demo", "--model", model, "--weights", wa, .. tiny]);
        Assert.True(fit.Code == 0, fit.Err);
        Assert.Contains("calibration: image threshold", fit.Out);

        string images = Path.Combine(root, "demo", "test", "good");
        var good = Directory.GetFiles(images).Order(StringComparer.Ordinal).ToList();
        byte[] png = File.ReadAllBytes(good[0]);
        string bad = Path.Combine(images, "001_truncated.png"); // between good ones, inside a batch of 2
        File.WriteAllBytes(bad, png[..(png.Length / 2)]);
        string outDir = Path.Combine(root, "p");
        var r = Cli("predict", "--model", model, "--weights", wa, "--backend", "cpu", "--batch-size", "2", "--out", outDir, images);
        Assert.Equal(1, r.Code);
        Assert.Contains("1 of " + (good.Count + 1) + " images could not be scored", r.Err);
        Assert.DoesNotContain("   at ", r.Err);

        var scores = File.ReadAllLines(Path.Combine(outDir, "scores.csv"));
        Assert.Equal(1 + good.Count, scores.Length);
        Assert.DoesNotContain(scores, l => l.Contains("001_truncated"));
        Assert.All(scores.Skip(1), l => Assert.Contains(",heatmaps/good/", l)); // mirrors <folder name>/<file>
        var errors = File.ReadAllLines(Path.Combine(outDir, "errors.csv"));
        Assert.Equal("path,error", errors[0]);
        Assert.Equal(2, errors.Length);
        Assert.StartsWith(bad + ",", errors[1]);
        Assert.DoesNotContain(errors[1], ch => char.IsControl(ch));
        Assert.Contains("001_truncated.png", r.Out);
        Assert.Equal(good.Count, Directory.GetFiles(Path.Combine(outDir, "heatmaps", "good")).Length);

        // Every image bad: still scores.csv (header only) and errors.csv, exit 1.
        var only = Cli("predict", "--model", model, "--weights", wa, "--backend", "cpu", "--out", Path.Combine(root, "q"), bad);
        Assert.Equal(1, only.Code);
        Assert.Single(File.ReadAllLines(Path.Combine(root, "q", "scores.csv")));
        Assert.Equal(2, File.ReadAllLines(Path.Combine(root, "q", "errors.csv")).Length);
    }

    [Fact]
    public void DecoderMessagesAreMadePrintableAndLoseTheirPath()
    {
        var e = new InvalidDataException("/x/a.png: cannot decode image (\0\0\0\0 bad\r\n  chunk\u0001)");
        Assert.Equal("cannot decode image ( bad chunk)", PatchCore.Features.PatchFeatureExtractor.Describe("/x/a.png", e));
        Assert.Equal("cannot decode image", PatchCore.Features.PatchFeatureExtractor.Describe("/x/a.png", new InvalidDataException("/x/a.png: cannot decode image (\0\0\0)")));
    }
}
