using PatchCore.Experiments;
using PatchCore.Pipeline;

namespace PatchCore.Tests.Experiments;

/// <summary>Sweep files: expansion, run ids, shards, and one-line errors for bad files.</summary>
public class SweepPlanTests
{
    static SweepPlan Plan(string json) => SweepPlan.Parse(json, "s.json", new PatchCoreConfig(), dataRootDefault: TestPaths.TempDir());

    [Fact]
    public void RunsAreCategoriesTimesTheGridProductPlusTheRunsList()
    {
        var p = Plan("""{"categories": ["a", "b"], "grid": {"coreset": [0.01, 0.1], "k": [1, 3, 5], "seed": [0, 1]}, "runs": [{"coreset": 0.5}]}""");
        Assert.Equal(2 * (2 * 3 * 2 + 1), p.Runs.Count);
        Assert.Equal("a__coreset=0.01__k=1__seed=0", p.Runs[0].Id);
        Assert.Equal("a__coreset=0.01__k=1__seed=1", p.Runs[1].Id); // last key fastest
        Assert.Equal("a__coreset=0.5", p.Runs[12].Id);
        Assert.Equal("b__coreset=0.01__k=1__seed=0", p.Runs[13].Id);
        Assert.Equal(0.01, p.Runs[0].Config.Coreset);
        Assert.Equal(3, p.Runs[2].Config.K);
        Assert.Equal(1, p.Runs[1].Config.Seed);
        Assert.Equal(p.Runs[0].SettingKey, p.Runs[1].SettingKey); // seeds of one setting
        Assert.NotEqual(p.Runs[0].SettingKey, p.Runs[2].SettingKey);
        Assert.Equal(p.Runs.Count, p.Runs.Select(r => r.Id).Distinct().Count());
        Assert.Single(Plan("""{"categories": ["a"]}""").Runs); // no grid: the defaults once
    }

    [Fact]
    public void IdsAreSanitizedAndListsJoined()
    {
        var p = Plan("""{"categories": ["a"], "config": {"threads": 1}, "runs": [{"weights": "w/x y.safetensors", "layers": ["layer2", "layer3"]}]}""");
        Assert.Equal("a__weights=w_x_y.safetensors__layers=layer2+layer3", p.Runs[0].Id);
        Assert.Equal(1, p.Runs[0].Config.Threads);
        Assert.Equal("w/x y.safetensors", p.Runs[0].Config.Weights);
    }

    [Theory]
    [InlineData(7, 1)]
    [InlineData(7, 3)]
    [InlineData(12, 5)]
    [InlineData(3, 8)] // more parts than runs: some parts are empty
    public void ShardsAreDisjointAndCoverEveryRun(int settings, int parts)
    {
        var values = string.Join(", ", Enumerable.Range(1, settings).Select(i => (i * 0.01).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var p = Plan($$$"""{"categories": ["a"], "grid": {"coreset": [{{{values}}}]}}""");
        var seen = new List<string>();
        for (int k = 0; k < parts; k++) seen.AddRange(p.Shard(k, parts).Select(r => r.Id));
        Assert.Equal(p.Runs.Select(r => r.Id).Order(), seen.Order());
        Assert.Equal(seen.Count, seen.Distinct().Count());
    }

    [Theory]
    [InlineData("0/4", 0, 4)]
    [InlineData("3/4", 3, 4)]
    public void ShardSpecParses(string text, int k, int n) => Assert.Equal((k, n), SweepPlan.ParseShard(text));

    [Theory]
    [InlineData("4/4")]
    [InlineData("1")]
    [InlineData("-1/2")]
    [InlineData("a/b")]
    [InlineData("0/0")]
    public void BadShardSpecIsOneLineNamingTheFlag(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => SweepPlan.ParseShard(text));
        Assert.StartsWith("--shard", e.Message);
    }

    [Theory]
    [InlineData("""{"categories": ["a"], "grid": {"corset": [0.1]}}""", "unknown config key 'corset'")]
    [InlineData("""{"categories": ["a"], "grid": {"coreset": [2]}}""", "coreset 2 must be in (0, 1]")]
    [InlineData("""{"categories": ["a"], "grid": {"coreset": []}}""", "grid.coreset must be a non-empty list")]
    [InlineData("""{"categories": ["a"], "grid": {"coreset": 0.1}}""", "grid.coreset must be a non-empty list")]
    [InlineData("""{"categories": [], "grid": {}}""", "\"categories\" must be a non-empty list")]
    [InlineData("""{"categories": ["a", "a"]}""", "listed twice")]
    [InlineData("""{"categories": ["../x"]}""", "is not a category name")]
    [InlineData("""{"categories": ["a"], "gird": {}}""", "unknown key 'gird'")]
    [InlineData("""{"categories": ["a"], "runs": [{"k": 1}, {"k": 1}]}""", "appears twice")]
    [InlineData("""{"categories": ["a"], "grid": {"k": ["x"]}}""", "run a__k=x")]
    [InlineData("""{"categories": ["a"] """, "not valid JSON")]
    [InlineData("""[1]""", "one JSON object")]
    public void BadSweepFilesGiveOneLineNamingTheFile(string json, string expected)
    {
        var e = Assert.ThrowsAny<Exception>(() => Plan(json));
        Assert.True(e is InvalidDataException, e.GetType().Name + ": " + e.Message);
        Assert.StartsWith("s.json", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void FineTuningKeysAreAcceptedAndOnlyRunsWithATaskFineTune()
    {
        var p = Plan("""{"categories": ["a"], "config": {"learning-rate": 0.02}, "grid": {"task": ["none", "rotation"], "epochs": [2], "seed": [3]}}""");
        Assert.Equal(["a__task=none__epochs=2__seed=3", "a__task=rotation__epochs=2__seed=3"], p.Runs.Select(r => r.Id));
        Assert.Null(p.Runs[0].FineTune); // "none": plain PatchCore
        var ft = p.Runs[1].FineTune!;
        Assert.Equal(("rotation", 2, 0.02), (ft.Task, ft.Epochs, ft.LearningRate));
        Assert.Equal((3, 3), (ft.Seed, p.Runs[1].Config.Seed)); // the run's seed, resize and crop
        Assert.Equal((256, 224), (ft.Resize, ft.Crop));
        Assert.Equal("""{"category":"a","params":{"task":"rotation","epochs":2,"seed":3}}""", p.Runs[1].ParamsJson().ToJsonString());
        Assert.Null(Plan("""{"categories": ["a"], "grid": {"epochs": [2]}}""").Runs[0].FineTune); // task defaults to none
        Assert.Equal("rotation", Plan("""{"categories": ["a"], "config": {"task": "rotation"}}""").Runs[0].FineTune!.Task);
        var c = Plan("""{"categories": ["a"], "runs": [{"task": "contrastive", "temperature": 0.2, "head-dim": 64}]}""").Runs[0].FineTune!;
        Assert.Equal(("contrastive", 0.2, 64), (c.Task, c.Temperature, c.ProjectionDim));
        Assert.Contains("task", SweepPlan.FineTuneKeys());
        Assert.Contains("train-stages", SweepPlan.FineTuneKeys());
        Assert.DoesNotContain("seed", SweepPlan.FineTuneKeys()); // shared: the run's key
    }

    [Theory]
    [InlineData("""{"categories": ["a"], "grid": {"finetune_lr": [1]}}""", "grid: unknown config key 'finetune_lr'")]
    [InlineData("""{"categories": ["a"], "grid": {"learning_rate": [1]}}""", "unknown config key 'learning_rate'")]
    [InlineData("""{"categories": ["a"], "runs": [{"task": "rotation", "epochs": 0}]}""", "run a__task=rotation__epochs=0: epochs 0: must be 1..10000")]
    [InlineData("""{"categories": ["a"], "grid": {"task": ["jigsaw"]}}""", "run a__task=jigsaw: task jigsaw")]
    [InlineData("""{"categories": ["a"], "grid": {"task": [1]}}""", "run a__task=1: task 1: must be none")]
    [InlineData("""{"categories": ["a"], "grid": {"task": ["none"], "epochs": ["many"]}}""", "run a__task=none__epochs=many")]
    public void BadFineTuningKeysAndValuesGiveOneLineNamingTheFileAndRun(string json, string expected)
    {
        var e = Assert.ThrowsAny<Exception>(() => Plan(json));
        Assert.True(e is InvalidDataException, e.GetType().Name + ": " + e.Message);
        Assert.StartsWith("s.json", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AllCategoriesAreTheCategoryFoldersOfTheDataRoot()
    {
        string root = TestPaths.TempDir();
        foreach (var c in new[] { "zeta", "alpha" }) Directory.CreateDirectory(Path.Combine(root, c, "train", "good"));
        Directory.CreateDirectory(Path.Combine(root, "notes"));
        var p = SweepPlan.Parse($$"""{"categories": "all", "data_root": {{System.Text.Json.JsonSerializer.Serialize(root)}}}""", "s.json", new PatchCoreConfig());
        Assert.Equal(["alpha", "zeta"], p.Categories);
    }
}
