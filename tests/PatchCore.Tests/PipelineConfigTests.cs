using CommandLine;
using PatchCore.Cli.Commands;
using PatchCore.Pipeline;

namespace PatchCore.Tests;

public class PipelineConfigTests
{
    [Fact]
    public void JsonRoundTripKeepsEveryField()
    {
        var c = new PatchCoreConfig
        {
            Weights = "w.safetensors", Resize = 320, Crop = 288, SquareResize = true, Aggregation = "anomalib", PatchSize = 5,
            PretrainDim = 512, TargetDim = 384, Coreset = 0.01, ProjectionDim = 64, Projection = "uniform", StartPoints = 7, K = 3,
            ScoreDistance = "l2", Reweight = true, ReweightB = 5, Seed = 42, Threads = 3, BatchSize = 8, Sigma = 2.5f,
        };
        string json = c.ToJson();
        Assert.Contains("\"score_distance\": \"l2\"", json);
        Assert.Contains("\"projection_dim\": 64", json);
        Assert.Contains("\"projection\": \"uniform\"", json);
        var back = PatchCoreConfig.FromJson(json);
        Assert.Equal(c with { Layers = back.Layers }, back);
        Assert.Equal(c.Layers, back.Layers);

        string path = Path.Combine(TestPaths.TempDir(), "c.json");
        c.Save(path);
        Assert.Equal(c.ToJson(), PatchCoreConfig.Load(path).ToJson());
    }

    [Fact]
    public void UnknownKeysAndBadValuesAreRefusedWithTheFileName()
    {
        string dir = TestPaths.TempDir();
        string bad = Path.Combine(dir, "bad.json");
        File.WriteAllText(bad, "{ \"coreset\": 0.1, \"corset\": 0.2 }");
        var e = Assert.Throws<InvalidDataException>(() => PatchCoreConfig.Load(bad));
        Assert.Contains(bad, e.Message);
        File.WriteAllText(bad, "{ \"coreset\": 1.5 }");
        Assert.Throws<ArgumentException>(() => PatchCoreConfig.Load(bad));
        File.WriteAllText(bad, "{ \"aggregation\": \"median\" }");
        Assert.Throws<ArgumentException>(() => PatchCoreConfig.Load(bad));
        File.WriteAllText(bad, "{ \"projection\": \"sparse\" }");
        Assert.Contains("projection 'sparse'", Assert.Throws<ArgumentException>(() => PatchCoreConfig.Load(bad)).Message);
    }

    [Fact]
    public void FlagsOverrideTheConfigFile()
    {
        string dir = TestPaths.TempDir();
        string file = Path.Combine(dir, "c.json");
        new PatchCoreConfig { Coreset = 0.25, K = 3, Seed = 7, Resize = 320, Crop = 300 }.Save(file);
        var parsed = new Parser(s => s.CaseInsensitiveEnumValues = true)
            .ParseArguments<RunCommand>(["--config", file, "--coreset", "0.01", "-k", "1", "--reweight", "--aggregation", "anomalib", "--projection", "uniform"]);
        var cmd = Assert.IsType<Parsed<RunCommand>>(parsed).Value;
        var c = cmd.BuildConfig();
        Assert.Equal(0.01, c.Coreset);    // flag beats file
        Assert.Equal(1, c.K);             // flag beats file
        Assert.Equal(7, c.Seed);          // file beats default
        Assert.Equal(320, c.Resize);
        Assert.Equal(300, c.Crop);
        Assert.True(c.Reweight);
        Assert.Equal("anomalib", c.Aggregation);
        Assert.Equal(128, c.ProjectionDim); // default
        Assert.Equal("uniform", c.Projection);
    }
}
