using PatchCore.Tests.Reliability;

namespace PatchCore.Tests;

/// <summary>`bench train` at a tiny size: it runs the fine-tuning step and prints its table (step times, median,
/// rows/s, peak RSS, the op profile with --ops, the RESULT line the side-by-side script reads); bad flags give one
/// line. Structure only: nothing here depends on how fast anything is.</summary>
[Collection("Console")]
public class BenchTrainTests
{
    [Theory]
    [InlineData("rotation", 8)]     // 2 images x 4 rotations
    [InlineData("contrastive", 8)]  // 2 images x 2 views + the default 4 CutMix negatives
    public void RunsOneStepAndPrintsItsTable(string task, int _)
    {
        PatchCore.Tests.Reliability.CliRunner.TinyRoot(out string weights);
        var r = CliRunner.Run("bench", "train", "--task", task, "--batch", "2", "--crop", "32", "--steps", "1", "--warmup", "0",
            "--threads", "2", "--weights", weights, "--ops");
        Assert.True(r.Code == 0, r.Err + r.Out);
        Assert.Contains("step   1:", r.Out);
        Assert.Contains("median ", r.Out);
        Assert.Contains("peak RSS", r.Out);
        Assert.Contains("conv backward", r.Out);   // the op profile
        Assert.Contains("sgd step", r.Out);
        int rows = task == "rotation" ? 8 : 2 * 2 + 4;
        Assert.Contains($"RESULT impl=pcnative task={task} ", r.Out);
        Assert.Contains($" rows={rows} size=32 ", r.Out);
    }

    [Theory]
    [InlineData("--batch", "x", "--batch")]
    [InlineData("--optimizer", "rmsprop", "--optimizer")]
    [InlineData("--task", "jigsaw", "--task")]
    [InlineData("--train-stages", "layer9", "layer9")]
    public void BadFlagsGiveOneLine(string flag, string value, string mention)
    {
        PatchCore.Tests.Reliability.CliRunner.TinyRoot(out string weights);
        var r = CliRunner.Run("bench", "train", "--crop", "32", "--steps", "1", "--warmup", "0", "--weights", weights, flag, value);
        CliRunner.AssertOneLineError(r, 1, mention);
    }
}
