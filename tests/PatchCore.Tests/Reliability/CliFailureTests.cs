using System.Text.Json.Nodes;
using PatchCore.Pipeline;
using static PatchCore.Tests.Reliability.CliRunner;

namespace PatchCore.Tests.Reliability;

/// <summary>Issue 12 item 5 at the command line: every failure one line on stderr (exit 1, usage errors 2),
/// no stack trace, and found before any compute; numeric flags bounded, capped ones warned and recorded.</summary>
[Collection("Console")]
public class CliFailureTests
{
    [Fact]
    public void UsageErrorsAreOneLineOnStderrWithExitTwoAndHelpStaysOnStdout()
    {
        var bad = Run("run", "--no-such-flag");
        Assert.Equal(2, bad.Code);
        Assert.Equal("", bad.Out);
        var line = Assert.Single(Lines(bad.Err));
        Assert.Contains("no-such-flag", line);
        Assert.Contains("run --help", line);

        var format = Run("run", "--target-dim", "2e9");
        Assert.Equal(2, format.Code);
        Assert.Contains("target-dim", Assert.Single(Lines(format.Err)));

        Assert.Equal(2, Run("fit").Code); // --model is required
        var help = Run("run", "--help");
        Assert.Equal(0, help.Code);
        Assert.Contains("--resize", help.Out);
        Assert.Equal("", help.Err);
        var version = Run("--version");
        Assert.Equal(0, version.Code);
        Assert.NotEqual("", version.Out.Trim());
    }

    /// <summary>Each value crashed (or ran the whole fit first) before: now one line naming the flag, before any compute.</summary>
    [Theory]
    [InlineData("--resize", "100000")]
    [InlineData("--resize", "4")]
    [InlineData("--crop", "300")]
    [InlineData("--sigma", "1e9")]
    [InlineData("--sigma", "NaN")]
    [InlineData("--patch-size", "2147483647")]
    [InlineData("--patch-size", "4")]
    [InlineData("--target-dim", "2000000000")]
    [InlineData("--pretrain-dim", "0")]
    [InlineData("--coreset", "1.5")]
    [InlineData("--projection-dim", "100000")]
    [InlineData("--start-points", "100000")]
    [InlineData("--k", "5000")]
    [InlineData("--reweight-b", "0")]
    [InlineData("--batch-size", "100000")]
    [InlineData("--threads", "-1")]
    public void OutOfRangeFlagIsOneLineNamingItBeforeAnyCompute(string flag, string value)
    {
        string root = TestPaths.TempDir(); // no category: had the check come later, the error would be "no data"
        string outDir = Path.Combine(root, "out");
        var r = Run("run", "--data-root", root, "--category", "carpet", "--out", outDir, flag, value);
        AssertOneLineError(r, 1, flag, "must");
        Assert.False(Directory.Exists(outDir));
    }

    [Fact]
    public void ThreadsAboveTheCoresAndKAboveTheBankAreCappedWarnedAndRecorded()
    {
        string root = TinyRoot(out string w);
        string outDir = Path.Combine(root, "out");
        // 8 train images x 7x7 patches x 0.5% coreset = 1 bank row (at least one is kept).
        string[] flags = [.. With(TinyFlags(root, w), "--coreset", "0.005", "--threads", "100000"), "--out", outDir, "--no-heatmaps", "--k", "3"];
        var r = Run(["run", .. flags]);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains($"threads 100000 is more than the {Environment.ProcessorCount} cores", r.Err);
        Assert.Contains("k 3 is more than the", r.Err);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")))!;
        int bank = json["bank_size"]!.GetValue<int>();
        Assert.True(bank < 3);
        Assert.Equal(bank, json["config"]!["k"]!.GetValue<int>());
        Assert.Equal(Environment.ProcessorCount, json["config"]!["threads"]!.GetValue<int>());
    }

    [Fact]
    public void WeightsWithNaNAreRefusedAtLoadNamingFileAndTensor()
    {
        string root = TinyRoot(out _);
        var good = PipelineTestData.TinyResNet(1);
        good.Tensors["layer2.0.conv1.weight"].Data[17] = float.NaN;
        string bad = Path.Combine(root, "nan.safetensors");
        // Written without WeightFile.Save, which refuses to write such a file in the first place.
        PatchCore.Weights.Safetensors.Write(bad, good.Tensors, PatchCore.Weights.WeightMetadataCodec.ToStrings(good.Metadata));
        var e = Assert.Throws<InvalidDataException>(() => PatchCore.Weights.WeightFile.Load(bad));
        Assert.Contains("nan.safetensors", e.Message);
        Assert.Contains("layer2.0.conv1.weight", e.Message);
        Assert.Throws<InvalidDataException>(() => good.Save(Path.Combine(root, "again.safetensors")));

        string model = Path.Combine(root, "m.pcm");
        var r = Run(["fit", .. TinyFlags(root, bad), "--model", model]);
        AssertOneLineError(r, 1, "nan.safetensors", "layer2.0.conv1.weight");
        Assert.False(File.Exists(model));
    }

    [Fact]
    public void OutputFolderThatCannotBeWrittenFailsBeforeAnyCompute()
    {
        string root = TinyRoot(out string w);
        string blocker = Path.Combine(root, "a-file");
        File.WriteAllText(blocker, "x");
        // As root a chmod'ed folder stays writable, so "cannot write" is tested with a parent that is a file.
        var run = Run(["run", .. TinyFlags(root, w), "--out", Path.Combine(blocker, "out")]);
        AssertOneLineError(run, 1, "--out", "a-file is a file");
        Assert.DoesNotContain("memory bank", run.Err);

        var isFile = Run(["run", .. TinyFlags(root, w), "--out", blocker]);
        AssertOneLineError(isFile, 1, "--out", "is a file, not a folder");

        var fitIntoFolder = Run(["fit", .. TinyFlags(root, w), "--model", root]);
        AssertOneLineError(fitIntoFolder, 1, "--model", "is a folder");
        Assert.DoesNotContain("memory bank", fitIntoFolder.Err);

        var fitUnderFile = Run(["fit", .. TinyFlags(root, w), "--model", Path.Combine(blocker, "m.pcm")]);
        AssertOneLineError(fitUnderFile, 1, "--model", "a-file is a file");

        var runModel = Run(["run", .. TinyFlags(root, w), "--model", root, "--out", Path.Combine(root, "o2")]);
        AssertOneLineError(runModel, 1, "--model", "is a folder");
        Assert.False(Directory.Exists(Path.Combine(root, "o2")));

        var saveConfig = Run(["run", .. TinyFlags(root, w), "--save-config", root]);
        AssertOneLineError(saveConfig, 1, "--save-config", "is a folder");
    }

    [Fact]
    public void OutRefusesANonEmptyFolderUnlessOverwriteWhichReplacesItAtTheEnd()
    {
        string root = TinyRoot(out string w);
        string outDir = Path.Combine(root, "out");
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "results.json"), "old");
        File.WriteAllText(Path.Combine(outDir, "stale.png"), "old");

        var refused = Run(["run", .. TinyFlags(root, w), "--out", outDir, "--no-heatmaps"]);
        AssertOneLineError(refused, 1, "--out", "not empty", "--overwrite");
        Assert.Equal("old", File.ReadAllText(Path.Combine(outDir, "results.json")));
        Assert.DoesNotContain("memory bank", refused.Err);

        var ok = Run(["run", .. TinyFlags(root, w), "--out", outDir, "--no-heatmaps", "--overwrite"]);
        Assert.True(ok.Code == 0, ok.Err);
        Assert.False(File.Exists(Path.Combine(outDir, "stale.png"))); // old and new never mix
        Assert.StartsWith("{", File.ReadAllText(Path.Combine(outDir, "results.json")));
        Assert.Contains(outDir, ok.Out);
        // Nothing but the published folder is left beside it (no claim, work or moved-aside folder).
        Assert.DoesNotContain(Directory.GetFileSystemEntries(root), p => Path.GetFileName(p).StartsWith(".out", StringComparison.Ordinal));

        // An empty existing folder is fine without --overwrite.
        string empty = Path.Combine(root, "empty");
        Directory.CreateDirectory(empty);
        var intoEmpty = Run(["run", .. TinyFlags(root, w), "--out", empty, "--no-heatmaps"]);
        Assert.True(intoEmpty.Code == 0, intoEmpty.Err);
        Assert.True(File.Exists(Path.Combine(empty, "results.json")));
    }

    [Fact]
    public void AFailedRunLeavesNoFolderBehind()
    {
        string root = TinyRoot(out string w);
        // A training image that does not decode fails the fit, after the output folder was claimed.
        File.WriteAllBytes(Directory.GetFiles(Path.Combine(root, "demo", "train", "good"))[0], [0x89, (byte)'P', (byte)'N', (byte)'G']);
        string outDir = Path.Combine(root, "out");
        var r = Run(["run", .. TinyFlags(root, w), "--out", outDir]);
        AssertOneLineError(r, 1);
        Assert.False(Directory.Exists(outDir));
        Assert.DoesNotContain(Directory.GetFileSystemEntries(root), p => Path.GetFileName(p).StartsWith(".out", StringComparison.Ordinal));
    }

    [Fact]
    public void MaskOfAnotherSizeIsAnErrorNamingTheMaskBeforeAnyCompute()
    {
        string root = TinyRoot(out string w);
        string mask = Directory.GetFiles(Path.Combine(root, "demo", "ground_truth"), "*_mask.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).First();
        PatchCore.IO.ImageFile.WritePng(mask, 32, 40, 1, new byte[32 * 40]);
        var r = Run(["run", .. TinyFlags(root, w), "--out", Path.Combine(root, "out")]);
        AssertOneLineError(r, 1, Path.GetFileName(mask), "32x40", "64x64");
        Assert.DoesNotContain("memory bank", r.Err);
    }

    [Fact]
    public void TinyAndOneByOneImagesAreWarnedByNameAndDoNotCrash()
    {
        string root = TinyRoot(out string w);
        string tiny = Directory.GetFiles(Path.Combine(root, "demo", "train", "good")).Order(StringComparer.Ordinal).First();
        PatchCore.IO.ImageFile.WritePng(tiny, 1, 1, 3, [10, 200, 30]);
        var r = Run(["run", .. TinyFlags(root, w), "--out", Path.Combine(root, "out"), "--no-heatmaps"]);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains(tiny + ": tiny image (1x1", r.Err);
    }
}
