using PatchCore.Data;
using PatchCore.Tests.Reliability;

namespace PatchCore.Tests.Experiments;

/// <summary>The sweep verb and run's category list through Cli.Main (the console is global: one collection).</summary>
[Collection("Console")]
public class SweepCliTests
{
    [Fact]
    public void RunWithACategoryListWritesAFolderPerCategoryAndASummaryWithAMeanRow()
    {
        string root = CliRunner.TinyRoot(out string weights);
        SyntheticDataset.Ensure(root, "demo2", PipelineTestData.TinyData with { Seed = 2 });
        string outDir = Path.Combine(root, "multi");
        var flags = CliRunner.With(CliRunner.TinyFlags(root, weights), "--category", "demo,demo2");
        var (code, stdout, err) = CliRunner.Run(["run", .. flags, "--out", outDir, "--no-heatmaps", "--no-maps", "--calibration-images", "0"]);
        Assert.True(code == 0, err);
        foreach (var c in new[] { "demo", "demo2" })
        {
            Assert.True(File.Exists(Path.Combine(outDir, c, "results.json")));
            Assert.True(File.Exists(Path.Combine(outDir, c, "curves.json")));
        }
        var lines = File.ReadAllLines(Path.Combine(outDir, "summary.csv"));
        Assert.Equal("category,image_auroc,pixel_auroc,aupro,f1_max,total_s", lines[0]);
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("demo,", lines[1]);
        Assert.StartsWith("demo2,", lines[2]);
        Assert.StartsWith("mean,", lines[3]);
        // The mean row is the mean of the two rows (image AUROC column).
        double a = double.Parse(lines[1].Split(',')[1]), b = double.Parse(lines[2].Split(',')[1]), m = double.Parse(lines[3].Split(',')[1]);
        Assert.Equal((a + b) / 2, m, 0.006);
        Assert.Contains("| mean |", stdout);
    }

    [Fact]
    public void RunWithSeveralCategoriesRefusesOneModelFile()
    {
        string root = CliRunner.TinyRoot(out string weights);
        var flags = CliRunner.With(CliRunner.TinyFlags(root, weights), "--category", "demo,demo");
        var (code, _, err) = CliRunner.Run(["run", .. flags, "--out", Path.Combine(root, "x")]);
        Assert.Equal(1, code);
        Assert.Contains("'demo' is listed twice", err);
    }

    [Fact]
    public void BadSweepFileAndFlagsAreOneLineErrors()
    {
        string dir = TestPaths.TempDir();
        string bad = Path.Combine(dir, "bad.json"), ok = Path.Combine(dir, "ok.json");
        File.WriteAllText(bad, """{"categories": ["demo"], "grid": {"task": ["classify"]}}""");
        File.WriteAllText(ok, """{"categories": ["demo"], "grid": {"coreset": [0.1]}}""");
        foreach (var (args, expected) in new (string[], string)[]
        {
            (["sweep", bad], "run demo__task=classify: task classify"),
            (["sweep", ok, "--shard", "1/1"], "--shard '1/1'"),
            (["sweep", ok, "--shard", "0/2", "--merge"], "--merge and --shard"),
            (["sweep", ok, "--out", Path.Combine(dir, "s"), "--merge"], "1 of 1 runs are not done"),
            (["sweep", Path.Combine(dir, "none.json")], "sweep file not found"),
        })
        {
            var (code, _, err) = CliRunner.Run(args);
            Assert.True(code == 1, string.Join(" ", args) + ": " + err);
            var lines = CliRunner.Lines(err);
            Assert.Single(lines);
            Assert.StartsWith("pcnative: error:", lines[0]);
            Assert.Contains(expected, lines[0]);
        }
    }
}
