using System.Text.Json.Nodes;
using PatchCore.Backends.Cpu;
using PatchCore.Pipeline;
using PatchCore.Weights;

namespace PatchCore.Tests;

/// <summary>evaluate: a saved model re-tested gives what the run that fitted it gave; predict with a model moved alone.</summary>
[Collection("Console")]
public class PipelineEvaluateTests
{
    static (int Code, string Out, string Err) Cli(params string[] args) => Reliability.CliRunner.Run(args);

    static readonly string[] Tiny = ["--backend", "cpu", "--threads", "2", "--resize", "64", "--crop", "56", "--pretrain-dim", "64",
        "--target-dim", "64", "--coreset", "0.5", "--projection-dim", "16", "--start-points", "3", "--batch-size", "4", "--sigma", "2"];

    [Fact]
    public void EvaluatingTheSavedModelGivesTheRunsScoresAndMetrics()
    {
        string root = PipelineTestData.TinyCategory(out var data);
        string wpath = Path.Combine(root, "w.safetensors");
        PipelineTestData.TinyResNet(1).Save(wpath);
        var weights = WeightFile.Load(wpath);
        var config = PipelineTestData.TinyConfig(coreset: 0.5) with { Weights = wpath };
        string model = Path.Combine(root, "m.pcm"), runOut = Path.Combine(root, "run"), evalOut = Path.Combine(root, "eval");
        RunResult run;
        using (var cpu = new CpuBackend(2))
            run = new Runner(cpu, config).Run(data, runOut, heatmaps: false, weights: weights, modelPath: model);

        File.Delete(wpath); // evaluate must not need it: the model embeds its weights
        using var m = ModelFile.Load(model);
        RunResult eval;
        using (var cpu = new CpuBackend(2))
            eval = new Runner(cpu, m.Config with { BatchSize = 3 }).Evaluate(m, data, evalOut, m.BackboneWeights(null, model), heatmaps: true, modelPath: model);

        Assert.Equal(File.ReadAllText(Path.Combine(runOut, "scores.csv")), File.ReadAllText(Path.Combine(evalOut, "scores.csv")));
        Assert.Equal(run.Metrics, eval.Metrics);
        Assert.True(run.Metrics.ContainsKey("image_auroc") && run.Metrics.ContainsKey("pixel_auroc"));
        Assert.Equal((run.BankSize, run.NTrain, run.NTest, run.FeatureRows), (eval.BankSize, eval.NTrain, eval.NTest, eval.FeatureRows));
        Assert.Equal(run.WeightsIdentity, eval.WeightsIdentity);
        Assert.True(Directory.GetFiles(Path.Combine(evalOut, "heatmaps"), "*.png", SearchOption.AllDirectories).Length == run.NTest);

        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(evalOut, "results.json")))!;
        Assert.Equal(model, (string)json["model"]!);
        var perType = json["metrics"]!["per_defect_type"]!.AsObject();
        var runPerType = JsonNode.Parse(File.ReadAllText(Path.Combine(runOut, "results.json")))!["metrics"]!["per_defect_type"]!.AsObject();
        Assert.Equal(runPerType.ToJsonString(), perType.ToJsonString());
        int defects = data.TestSamples.Count(t => t.IsAnomalous);
        Assert.Equal(defects, perType.Sum(kv => (int)kv.Value!["n"]!));
        foreach (var (_, v) in perType) Assert.InRange((double)v!["image_auroc"]!, 0, 1);
    }

    [Fact]
    public void EvaluateRefusesARunnerConfigThatIsNotTheModels()
    {
        PipelineTestData.TinyCategory(out var data);
        var w = PipelineTestData.TinyResNet(1, "ab12");
        var m = new PatchCoreModel(PipelineTestData.TinyConfig(), new float[64], 1, 64, 7, 7, "ab12", 1);
        using var cpu = new CpuBackend(2);
        var e = Assert.Throws<ArgumentException>(() => new Runner(cpu, m.Config with { Sigma = 3 }).Evaluate(m, data, TestPaths.TempDir(), w));
        Assert.Contains("config", e.Message);
    }

    [Fact]
    public void AModelMovedAloneScoresAsInItsFolderAndEvaluateRunsFromTheCli()
    {
        string root = PipelineTestData.TinyCategory(out _);
        string wa = Path.Combine(root, "a.safetensors"), wb = Path.Combine(root, "b.safetensors");
        PipelineTestData.TinyResNet(1).Save(wa);
        PipelineTestData.TinyResNet(2).Save(wb);
        string model = Path.Combine(root, "m.pcm");
        var fit = Cli(["fit", "--data-root", root, "--category", "demo", "--model", model, "--weights", wa, .. Tiny]);
        Assert.True(fit.Code == 0, fit.Err);
        string images = Path.Combine(root, "demo", "test");
        var before = Cli("predict", "--model", model, "--backend", "cpu", "--no-heatmaps", "--out", Path.Combine(root, "p1"), images);
        Assert.True(before.Code == 0, before.Err);

        // Only the .pcm travels: a fresh folder, the weight file and the original model gone.
        string moved = Path.Combine(TestPaths.TempDir(), "deployed.pcm");
        File.Copy(model, moved);
        File.Delete(model);
        File.Delete(wa);
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(moved)!));
        string elsewhere = Path.Combine(TestPaths.TempDir(), "out");
        var after = Cli("predict", "--model", moved, "--backend", "cpu", "--no-heatmaps", "--out", elsewhere, images);
        Assert.True(after.Code == 0, after.Err);
        Assert.Equal(File.ReadAllText(Path.Combine(root, "p1", "scores.csv")), File.ReadAllText(Path.Combine(elsewhere, "scores.csv")));

        // --weights with other weights is refused before anything is written.
        var refused = Cli("predict", "--model", moved, "--weights", wb, "--backend", "cpu", "--out", Path.Combine(root, "p3"), images);
        Assert.Equal(1, refused.Code);
        Assert.Contains("--weights " + wb, refused.Err);
        Assert.Single(refused.Err.Trim().Split('\n'));
        Assert.False(Directory.Exists(Path.Combine(root, "p3")));

        var eval = Cli("evaluate", "--model", moved, "--data-root", root, "--category", "demo", "--backend", "cpu", "--threads", "2",
            "--no-heatmaps", "--out", Path.Combine(root, "e"));
        Assert.True(eval.Code == 0, eval.Err);
        Assert.Contains("image AUROC", eval.Out);
        Assert.Contains("defect type", eval.Out);
        Assert.True(File.Exists(Path.Combine(root, "e", "results.json")));
        Assert.Equal("path,defect_type,truth,score,normalized_score,label", File.ReadLines(Path.Combine(root, "e", "scores.csv")).First());

        // A flipped byte of the moved model: one line naming the file and the section, exit 1.
        var bytes = File.ReadAllBytes(moved);
        bytes[^100] ^= 0xFF;
        File.WriteAllBytes(moved, bytes);
        var corrupt = Cli("predict", "--model", moved, "--backend", "cpu", "--out", Path.Combine(root, "p4"), images);
        Assert.Equal(1, corrupt.Code);
        Assert.Contains($"{moved}: backbone weights checksum mismatch (corrupt file)", corrupt.Err);
        Assert.Single(corrupt.Err.Trim().Split('\n'));
    }
}
