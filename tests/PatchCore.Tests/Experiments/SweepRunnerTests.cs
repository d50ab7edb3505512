using PatchCore.Backends.Cpu;
using PatchCore.Experiments;
using PatchCore.Pipeline;
using PatchCore.Weights;

namespace PatchCore.Tests.Experiments;

/// <summary>Whole sweeps on the tiny synthetic category with a tiny random-weight ResNet (about a second a run):
/// resume, sharded == unsharded, the summary's shape.</summary>
public class SweepRunnerTests
{
    const string Sweep = """{"categories": ["demo"], "grid": {"coreset": [0.25, 0.5], "seed": [0, 1]}}""";

    static (SweepPlan Plan, Func<string, CategoryData> Open, WeightFile Weights) Setup()
    {
        PipelineTestData.TinyCategory(out var data);
        var plan = SweepPlan.Parse(Sweep, "s.json", PipelineTestData.TinyConfig(), data.Root);
        return (plan, _ => new CategoryData(data, Synthetic: true), PipelineTestData.TinyResNet(1, "tiny"));
    }

    static SweepRunner Runner(CpuBackend cpu, Func<string, CategoryData> open, WeightFile w, StringWriter log) =>
        new(cpu, open, log, _ => w);

    /// <summary>The CSV without its wall-clock column (total_s_mean, the last).</summary>
    static string WithoutTimes(string csv) =>
        string.Join("\n", csv.Split('\n').Select(l => l.Contains(',') ? l[..l.LastIndexOf(',')] : l));

    [Fact]
    public void ShardedThenMergedEqualsUnshardedAndResumeSkipsDoneRuns()
    {
        var (plan, open, w) = Setup();
        using var cpu = new CpuBackend(2);
        string whole = TestPaths.TempDir(), parts = TestPaths.TempDir();

        var log = new StringWriter();
        var outcome = Runner(cpu, open, w, log).Run(plan, whole, plan.Runs);
        Assert.Equal((4, 0), (outcome.Ran, outcome.Skipped));
        Assert.Contains("[4/4] demo__coreset=0.5__seed=1: image AUROC", log.ToString());
        Assert.Contains("ETA", log.ToString());
        SweepSummary.Write(plan, whole);

        for (int k = 0; k < 2; k++) Runner(cpu, open, w, new StringWriter()).Run(plan, parts, plan.Shard(k, 2));
        SweepSummary.Write(plan, parts);

        string a = File.ReadAllText(Path.Combine(whole, "summary.csv")), b = File.ReadAllText(Path.Combine(parts, "summary.csv"));
        Assert.Equal(WithoutTimes(a), WithoutTimes(b));
        var rows = a.TrimEnd('\n').Split('\n');
        Assert.Equal("category,coreset,n_seeds,image_auroc_mean,image_auroc_sd,pixel_auroc_mean,pixel_auroc_sd,aupro_mean,aupro_sd,f1_max_mean,f1_max_sd,total_s_mean", rows[0]);
        Assert.Equal(3, rows.Length); // two settings, seeds averaged
        Assert.StartsWith("demo,0.25,2,", rows[1]);
        Assert.Contains("**", File.ReadAllText(Path.Combine(whole, "summary.md")));
        Assert.True(File.Exists(Path.Combine(whole, "runs", "demo__coreset=0.25__seed=1", "results.json")));
        Assert.Equal("""{"category":"demo","params":{"coreset":0.25,"seed":1}}""",
            System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(whole, "runs", "demo__coreset=0.25__seed=1", "params.json")))!.ToJsonString());
        Assert.True(File.Exists(Path.Combine(whole, "runs", "demo__coreset=0.25__seed=1", "curves.json")));
        Assert.Equal(Sweep, File.ReadAllText(Path.Combine(whole, "sweep.json")));

        // Resume: nothing left to do; a run without DONE (killed) is redone, and only it.
        var again = Runner(cpu, open, w, new StringWriter()).Run(plan, whole, plan.Runs);
        Assert.Equal((0, 4), (again.Ran, again.Skipped));
        File.Delete(Path.Combine(whole, "runs", "demo__coreset=0.5__seed=0", SweepRunner.DoneFile));
        File.WriteAllText(Path.Combine(whole, "runs", "demo__coreset=0.5__seed=0", "leftover"), "x");
        var resumed = Runner(cpu, open, w, new StringWriter()).Run(plan, whole, plan.Runs);
        Assert.Equal((1, 3), (resumed.Ran, resumed.Skipped));
        Assert.False(File.Exists(Path.Combine(whole, "runs", "demo__coreset=0.5__seed=0", "leftover")));
        SweepSummary.Write(plan, whole);
        Assert.Equal(WithoutTimes(a), WithoutTimes(File.ReadAllText(Path.Combine(whole, "summary.csv"))));
    }

    [Fact]
    public void MergeWithMissingRunsAndAnotherSweepsFolderAreRefused()
    {
        var (plan, open, w) = Setup();
        using var cpu = new CpuBackend(2);
        string dir = TestPaths.TempDir();
        Runner(cpu, open, w, new StringWriter()).Run(plan, dir, plan.Shard(0, 4));
        var e = Assert.Throws<InvalidDataException>(() => SweepSummary.Write(plan, dir));
        Assert.Contains("3 of 4 runs are not done", e.Message);
        var other = SweepPlan.Parse(Sweep.Replace("0.25", "0.3"), "t.json", PipelineTestData.TinyConfig(), plan.DataRoot);
        var e2 = Assert.Throws<InvalidDataException>(() => SweepRunner.CheckSameSweep(other, dir));
        Assert.Contains("holds another sweep", e2.Message);
    }

    /// <summary>A sweep over the fine-tuning task: the rotation run fine-tunes (weights with provenance, history,
    /// checkpoint) and scores with those weights; the "none" run is plain PatchCore; a redone run resumes the
    /// fine-tuning from its checkpoint and ends with the same weights and scores.</summary>
    [Fact]
    public void FineTuningRunsFineTuneFirstAndScoreWithTheirWeights()
    {
        PipelineTestData.TinyCategory(out var data);
        const string sweep = """{"categories": ["demo"], "config": {"batch": 4}, "grid": {"task": ["none", "rotation"], "epochs": [1]}}""";
        var plan = SweepPlan.Parse(sweep, "s.json", PipelineTestData.TinyConfig(), data.Root);
        var w = PipelineTestData.TinyResNet(1, "tiny");
        using var cpu = new CpuBackend(2);
        string dir = TestPaths.TempDir();
        var log = new StringWriter();
        var outcome = Runner(cpu, _ => new CategoryData(data, true), w, log).Run(plan, dir, plan.Runs);
        Assert.Equal((2, 0), (outcome.Ran, outcome.Skipped));
        Assert.Contains("demo__task=rotation__epochs=1: finetune: epoch 1/1", log.ToString());

        string plain = Path.Combine(dir, "runs", "demo__task=none__epochs=1"), tuned = Path.Combine(dir, "runs", "demo__task=rotation__epochs=1");
        Assert.False(File.Exists(Path.Combine(plain, SweepRunner.FineTunedFile)));
        string weights = Path.Combine(tuned, SweepRunner.FineTunedFile);
        Assert.Equal("rotation", Safetensors.Read(weights).Metadata["finetune.task"]);
        Assert.True(File.Exists(Path.Combine(tuned, SweepRunner.FineTuneCheckpointFile)));
        var history = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(tuned, SweepRunner.FineTuneHistoryFile)))!;
        Assert.Equal("rotation", (string?)history["task"]);
        // Epoch 0 (the held-out state before training; the default holdout keeps images out) and epoch 1.
        Assert.Equal(2, history["epochs"]!.AsArray().Count);
        Assert.Equal(0, (int)history["epochs"]![0]!["Epoch"]!);
        Assert.Equal("NaN", (string?)history["epochs"]![0]!["TrainLoss"]);
        var results = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(tuned, "results.json")))!;
        Assert.Equal(weights, (string?)results["config"]!["weights"]);
        var plainResults = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(plain, "results.json")))!;
        Assert.Equal(PatchCoreConfig.DefaultWeights, (string?)plainResults["config"]!["weights"]);
        Assert.NotEqual(File.ReadAllText(Path.Combine(plain, "scores.csv")), File.ReadAllText(Path.Combine(tuned, "scores.csv")));

        SweepSummary.Write(plan, dir);
        var rows = File.ReadAllText(Path.Combine(dir, "summary.csv")).TrimEnd('\n').Split('\n');
        Assert.StartsWith("category,task,epochs,n_seeds,", rows[0]);
        Assert.StartsWith("demo,none,1,1,", rows[1]);
        Assert.StartsWith("demo,rotation,1,1,", rows[2]);
        var curves = File.ReadAllText(Path.Combine(dir, FineTuneCurves.CsvFile)).TrimEnd('\n').Split('\n');
        Assert.Equal(3, curves.Length); // header + the rotation setting's epochs 0 and 1; "none" has no curve
        Assert.StartsWith("demo,rotation,1,0,1,,,", curves[1]);   // epoch 0: no training loss
        Assert.StartsWith("demo,rotation,1,1,1,", curves[2]);

        // A killed fine-tuning run is redone from its checkpoint: no epoch trained again, the same weights and scores.
        byte[] weightBytes = File.ReadAllBytes(weights);
        string scores = File.ReadAllText(Path.Combine(tuned, "scores.csv"));
        File.Delete(Path.Combine(tuned, SweepRunner.DoneFile));
        File.Delete(weights);
        var again = new StringWriter();
        Assert.Equal(1, Runner(cpu, _ => new CategoryData(data, true), w, again).Run(plan, dir, plan.Runs).Ran);
        Assert.Contains("resumed from", again.ToString());
        Assert.DoesNotContain("epoch 1/1", again.ToString());
        Assert.Equal(weightBytes, File.ReadAllBytes(weights));
        Assert.Equal(scores, File.ReadAllText(Path.Combine(tuned, "scores.csv")));
    }
}
