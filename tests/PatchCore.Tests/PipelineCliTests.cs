using PatchCore.Cli;
using PatchCore.Data;

namespace PatchCore.Tests;

/// <summary>Cli.Main with arguments, stdout/stderr captured (Reliability.CliRunner; one collection: the console is global).</summary>
[Collection("Console")]
public class PipelineCliTests
{
    static (int Code, string Out, string Err) Run(params string[] args) => Reliability.CliRunner.Run(args);

    [Fact]
    public void HelpExitsZeroAndUnknownVerbIsAUsageError()
    {
        var help = Run("--help");
        Assert.Equal(0, help.Code);
        Assert.Contains("run", help.Out);
        Assert.Equal(0, Run("run", "--help").Code);
        Assert.Equal(2, Run("no-such-verb").Code);
    }

    [Fact]
    public void MissingMvtecDataSaysWhereToGetItAndFails()
    {
        string empty = TestPaths.TempDir();
        var (code, _, err) = Run("run", "--category", "carpet", "--data-root", empty);
        Assert.Equal(1, code);
        Assert.Contains(MvtecDataset.MvtecUrl, err);
        Assert.Contains("CC BY-NC-SA 4.0", err);
        Assert.Contains("--data-root", err);
        Assert.Contains("PCNATIVE_DATA", err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void UnknownCategoryListsTheOnesFound()
    {
        string root = TestPaths.TempDir();
        Directory.CreateDirectory(Path.Combine(root, "bottle", "train", "good"));
        Directory.CreateDirectory(Path.Combine(root, "wood", "train", "good"));
        var (code, _, err) = Run("run", "--category", "carpet", "--data-root", root);
        Assert.Equal(1, code);
        Assert.Contains("bottle, wood", err);
    }

    [Fact]
    public void FitThenPredictRefusesOtherWeightsAndScoresWithTheRightOnes()
    {
        string root = PipelineTestData.TinyCategory(out _);
        string wa = Path.Combine(root, "a.safetensors"), wb = Path.Combine(root, "b.safetensors");
        PipelineTestData.TinyResNet(1).Save(wa);
        PipelineTestData.TinyResNet(2).Save(wb);
        string model = Path.Combine(root, "m.pcm");
        string[] tiny = ["--backend", "cpu", "--threads", "2", "--resize", "64", "--crop", "56", "--pretrain-dim", "64",
            "--target-dim", "64", "--coreset", "0.5", "--projection-dim", "16", "--batch-size", "4"];
        var fit = Run(["fit", "--data-root", root, "--category", "demo", "--model", model, "--weights", wa, .. tiny]);
        Assert.True(fit.Code == 0, fit.Err);
        Assert.True(File.Exists(model));

        string images = Path.Combine(root, "demo", "test", "good");
        var refused = Run("predict", "--model", model, "--weights", wb, "--backend", "cpu", "--out", Path.Combine(root, "p1"), images);
        Assert.Equal(1, refused.Code);
        Assert.Contains("weights", refused.Err);
        Assert.False(File.Exists(Path.Combine(root, "p1", "scores.csv")));

        var ok = Run("predict", "--model", model, "--weights", wa, "--backend", "cpu", "--out", Path.Combine(root, "p2"), images);
        Assert.True(ok.Code == 0, ok.Err);
        var lines = File.ReadAllLines(Path.Combine(root, "p2", "scores.csv"));
        Assert.Equal("path,score,normalized_score,label,heatmap", lines[0]);
        Assert.Equal(1 + PipelineTestData.TinyData.TestGood, lines.Length);
        Assert.Equal(PipelineTestData.TinyData.TestGood, Directory.GetFiles(Path.Combine(root, "p2", "heatmaps", "good")).Length);
    }
}
