using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using PatchCore.IO;

namespace PatchCore.Experiments;

/// <summary>
/// The training curves of a sweep's fine-tuning runs, built from each run's <c>finetune.json</c> only (so a
/// sharded-then-merged sweep gives the same file): one row per fine-tuned setting (category × params without seed)
/// and epoch, in plan order; columns <c>category,&lt;params…&gt;,epoch,n_seeds,train_loss_mean,train_loss_sd,
/// holdout_loss_mean,holdout_loss_sd,holdout_accuracy_mean,holdout_accuracy_sd,learning_rate</c>. Losses with 4
/// decimals, held-out accuracy in percent with 2 (the rotation task's 4-way accuracy; the contrastive task's share
/// of held-out views whose positive ranks first), sd with n−1 (empty for one seed). Written as
/// <c>finetune-epochs.csv</c> / <c>.md</c> beside summary.csv when the sweep has fine-tuning runs; <c>pcnative fill</c>
/// reads it as <c>{{SWEEP/finetune-epochs:…}}</c>.
/// </summary>
public static class FineTuneCurves
{
    public const string Table = "finetune-epochs";
    public const string CsvFile = Table + ".csv";
    public const string MarkdownFile = Table + ".md";

    static readonly string[] Series = ["train_loss", "holdout_loss", "holdout_accuracy"];

    public sealed record Row(string Category, Dictionary<string, string> Params, int Epoch, int Seeds,
        double?[] Mean, double?[] Sd, double LearningRate);

    public static bool HasFineTuning(SweepPlan plan)
    {
        foreach (var r in plan.Runs) if (r.FineTune != null) return true;
        return false;
    }

    /// <summary>Rows of every fine-tuned setting; the runs must be done (SweepSummary.Build checks that first).</summary>
    public static List<Row> Build(SweepPlan plan, string sweepDir)
    {
        var rows = new List<Row>();
        foreach (var g in SweepSummary.Settings(plan, r => r.FineTune != null))
        {
            var histories = new List<EpochValues[]>();
            foreach (var r in g) histories.Add(ReadHistory(Path.Combine(SweepRunner.RunDir(sweepDir, r), SweepRunner.FineTuneHistoryFile)));
            int epochs = histories[0].Length;
            foreach (var h in histories)
                if (h.Length != epochs)
                    throw new InvalidDataException($"{sweepDir}: the seeds of setting {g[0].Id} have {epochs} and {h.Length} epochs of fine-tuning history");
            var p = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (k, v) in g[0].SettingParams) p[k] = SweepPlan.Display(v);
            for (int e = 0; e < epochs; e++)
            {
                var mean = new double?[Series.Length];
                var sd = new double?[Series.Length];
                for (int s = 0; s < Series.Length; s++)
                {
                    var values = new List<double>(histories.Count);
                    foreach (var h in histories) if (!double.IsNaN(h[e].Values[s])) values.Add(h[e].Values[s]);
                    if (values.Count != histories.Count) continue; // a NaN (no held-out images) leaves the cell empty
                    double m = SweepSummary.Mean(values);
                    mean[s] = m;
                    if (values.Count > 1) sd[s] = SweepSummary.SampleSd(values, m);
                }
                rows.Add(new Row(g[0].Category, p, histories[0][e].Epoch, g.Count, mean, sd, histories[0][e].LearningRate));
            }
        }
        return rows;
    }

    public static void Write(SweepPlan plan, string sweepDir)
    {
        var rows = Build(plan, sweepDir);
        var cols = SweepSummary.ParamColumns(plan);
        AtomicFile.WriteAllText(Path.Combine(sweepDir, CsvFile), Csv(rows, cols));
        AtomicFile.WriteAllText(Path.Combine(sweepDir, MarkdownFile), Markdown(rows, cols));
    }

    static IEnumerable<string> Header(List<string> cols)
    {
        yield return "category";
        foreach (var c in cols) yield return c;
        yield return "epoch";
        yield return "n_seeds";
        foreach (var s in Series) { yield return s + "_mean"; yield return s + "_sd"; }
        yield return "learning_rate";
    }

    static List<string> Cells(Row r, List<string> cols)
    {
        var cells = new List<string> { r.Category };
        foreach (var c in cols) cells.Add(r.Params.TryGetValue(c, out var v) ? v : "");
        cells.Add(r.Epoch.ToString(CultureInfo.InvariantCulture));
        cells.Add(r.Seeds.ToString(CultureInfo.InvariantCulture));
        for (int s = 0; s < Series.Length; s++)
        {
            cells.Add(Format(s, r.Mean[s]));
            cells.Add(Format(s, r.Sd[s]));
        }
        cells.Add(r.LearningRate.ToString("G4", CultureInfo.InvariantCulture));
        return cells;
    }

    static string Format(int series, double? v) => v is not double x ? ""
        : Series[series] == "holdout_accuracy" ? (x * 100).ToString("F2", CultureInfo.InvariantCulture)
        : x.ToString("F4", CultureInfo.InvariantCulture);

    public static string Csv(List<Row> rows, List<string> cols)
    {
        var sb = new StringBuilder();
        sb.Append(string.Join(",", Header(cols))).Append('\n');
        foreach (var r in rows) sb.Append(string.Join(",", Cells(r, cols))).Append('\n');
        return sb.ToString();
    }

    public static string Markdown(List<Row> rows, List<string> cols)
    {
        var header = new List<string>(Header(cols));
        var sb = new StringBuilder();
        sb.Append("| ").Append(string.Join(" | ", header)).Append(" |\n");
        sb.Append('|');
        for (int i = 0; i < header.Count; i++) sb.Append("---|");
        sb.Append('\n');
        foreach (var r in rows) sb.Append("| ").Append(string.Join(" | ", Cells(r, cols))).Append(" |\n");
        sb.Append("\nPer epoch of fine-tuning, mean ± sd (n−1) over seeds: losses as computed; held-out accuracy in percent; learning_rate at the epoch's end (seed 0's run; the schedule does not depend on the seed).\n");
        return sb.ToString();
    }

    readonly record struct EpochValues(int Epoch, double[] Values, double LearningRate);

    /// <summary>finetune.json's "epochs" list (EpochRecord's names; "NaN" allowed).</summary>
    static EpochValues[] ReadHistory(string path)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(File.ReadAllText(path)); }
        catch (System.Text.Json.JsonException e) { throw new InvalidDataException($"{path}: not valid JSON: {ErrorText.OneLine(e.Message, 200)}"); }
        catch (FileNotFoundException) { throw new InvalidDataException($"{path}: missing (a fine-tuning run's history)"); }
        if (root?["epochs"] is not JsonArray epochs) throw new InvalidDataException($"{path}: no \"epochs\" list");
        var list = new EpochValues[epochs.Count];
        for (int i = 0; i < epochs.Count; i++)
        {
            var e = epochs[i] as JsonObject ?? throw new InvalidDataException($"{path}: epochs[{i}] is not an object");
            list[i] = new EpochValues(
                (int)Number(e, "Epoch", path, i),
                [Number(e, "TrainLoss", path, i), Number(e, "HeldOutLoss", path, i), Number(e, "HeldOutAccuracy", path, i)],
                Number(e, "LearningRate", path, i));
        }
        return list;
    }

    static double Number(JsonObject e, string name, string path, int i)
    {
        var node = e[name] as JsonValue ?? throw new InvalidDataException($"{path}: epochs[{i}] has no {name}");
        if (node.TryGetValue(out double d)) return d;
        if (node.TryGetValue(out string? s) && s == "NaN") return double.NaN;
        throw new InvalidDataException($"{path}: epochs[{i}].{name} is not a number");
    }
}
