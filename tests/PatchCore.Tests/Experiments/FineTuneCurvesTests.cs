using PatchCore.Experiments;
using PatchCore.Pipeline;

namespace PatchCore.Tests.Experiments;

/// <summary>The fine-tuning curves of a sweep (finetune-epochs.csv) from hand-written finetune.json histories, and
/// <c>pcnative fill</c> reading them as SWEEP/finetune-epochs.</summary>
public sealed class FineTuneCurvesTests : IDisposable
{
    readonly string root = Path.Combine(Path.GetTempPath(), "pcnative-ftcurves-" + Guid.NewGuid().ToString("N"));

    public void Dispose() { if (Directory.Exists(root)) Directory.Delete(root, recursive: true); }

    static string History(double[] train, double[] heldLoss, string[] heldAcc, double[] lr)
    {
        var epochs = new List<string>();
        for (int e = 0; e < train.Length; e++)
            epochs.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $$"""{"Epoch": {{e + 1}}, "TrainLoss": {{train[e]}}, "HeldOutLoss": {{heldLoss[e]}}, "HeldOutAccuracy": {{heldAcc[e]}}, "LearningRate": {{lr[e]}}}"""));
        return "{\"task\": \"rotation\", \"epochs\": [" + string.Join(", ", epochs) + "]}";
    }

    [Fact]
    public void MeanAndSdPerSettingAndEpochOverSeedsOnlyForFineTunedSettings()
    {
        var plan = SweepPlan.Parse("""{"categories": ["a"], "grid": {"task": ["none", "rotation"], "epochs": [2], "seed": [0, 1]}}""",
            "s.json", new PatchCoreConfig(), root);
        string sweep = Path.Combine(root, "ft");
        var tuned = plan.Runs.Where(r => r.FineTune != null).ToList();
        Assert.Equal(2, tuned.Count);
        double[][] train = [[1.0, 0.5], [2.0, 0.25]];
        string[][] acc = [["0.5", "0.75"], ["0.25", "\"NaN\""]];
        for (int s = 0; s < 2; s++)
        {
            string dir = SweepRunner.RunDir(sweep, tuned[s]);
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, SweepRunner.FineTuneHistoryFile), History(train[s], [0.9, 0.4], acc[s], [0.005, 0]));
        }
        var rows = FineTuneCurves.Build(plan, sweep);
        Assert.Equal(2, rows.Count); // the "none" setting has no curve
        Assert.Equal((1, 2), (rows[0].Epoch, rows[0].Seeds));
        Assert.Equal(1.5, rows[0].Mean[0]!.Value, 12);
        Assert.Equal(Math.Sqrt(0.5), rows[0].Sd[0]!.Value, 12);
        Assert.Equal(0.375, rows[0].Mean[2]!.Value, 12);
        Assert.Null(rows[1].Mean[2]); // one seed had no held-out accuracy: the cell stays empty, nothing guessed

        var csv = FineTuneCurves.Csv(rows, SweepSummary.ParamColumns(plan)).Split('\n');
        Assert.Equal("category,task,epochs,epoch,n_seeds,train_loss_mean,train_loss_sd,holdout_loss_mean,holdout_loss_sd,holdout_accuracy_mean,holdout_accuracy_sd,learning_rate", csv[0]);
        Assert.Equal("a,rotation,2,1,2,1.5000,0.7071,0.9000,0.0000,37.50,17.68,0.005", csv[1]);
        Assert.Equal("a,rotation,2,2,2,0.3750,0.1768,0.4000,0.0000,,,0", csv[2]);

        // fill reads the table as SWEEP/finetune-epochs; an unknown table name is an error naming the line.
        File.WriteAllText(Path.Combine(sweep, FineTuneCurves.CsvFile), string.Join('\n', csv));
        Assert.Equal("loss 1.5000 acc 37.50",
            ProseNumbers.Fill("loss {{ft/finetune-epochs:a:task=rotation,epoch=1:train_loss_mean}} acc {{ft/finetune-epochs:a:task=rotation,epoch=1:holdout_accuracy_mean}}", "t.md", root));
        var e = Assert.Throws<InvalidDataException>(() => ProseNumbers.Fill("x\n{{ft/curves:a:epoch=1:train_loss_mean}}", "t.md", root));
        Assert.Contains("t.md:2", e.Message);
        Assert.Contains("'curves'", e.Message);
    }

    [Fact]
    public void SeedsWithDifferentEpochCountsAreAnError()
    {
        var plan = SweepPlan.Parse("""{"categories": ["a"], "grid": {"task": ["rotation"], "seed": [0, 1]}}""", "s.json", new PatchCoreConfig(), root);
        string sweep = Path.Combine(root, "ft");
        for (int s = 0; s < 2; s++)
        {
            string dir = SweepRunner.RunDir(sweep, plan.Runs[s]);
            Directory.CreateDirectory(dir);
            double[] t = s == 0 ? [1.0] : [1.0, 0.5];
            File.WriteAllText(Path.Combine(dir, SweepRunner.FineTuneHistoryFile), History(t, t, s == 0 ? ["0.5"] : ["0.5", "0.5"], t));
        }
        var e = Assert.Throws<InvalidDataException>(() => FineTuneCurves.Build(plan, sweep));
        Assert.Contains("1 and 2 epochs", e.Message);
    }
}
