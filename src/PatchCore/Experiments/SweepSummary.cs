using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using PatchCore.IO;

namespace PatchCore.Experiments;

/// <summary>
/// The summary of a sweep folder, built from the runs' results.json only (so sharded-then-merged and unsharded
/// sweeps give byte-identical files): one row per setting (category × params without seed), in plan order;
/// columns <c>category,&lt;params…&gt;,n_seeds,image_auroc_mean,image_auroc_sd,pixel_auroc_mean,pixel_auroc_sd,
/// aupro_mean,aupro_sd,f1_max_mean,f1_max_sd,total_s_mean</c>: metrics in percent with 2 decimals, sd with n−1
/// (empty for one seed or a metric a run lacks). total_s_mean is wall-clock seconds, the one column that differs
/// between two sweeps of the same file. summary.md is the same table with the best mean of each metric per
/// category in <c>**bold**</c>. A sweep with fine-tuning runs also gets their training curves
/// (<see cref="FineTuneCurves"/>).
/// </summary>
public static class SweepSummary
{
    public static readonly string[] MetricKeys = ["image_auroc", "pixel_auroc", "aupro", "f1_max"];
    public const string CsvFile = "summary.csv";
    public const string MarkdownFile = "summary.md";

    public sealed record Row(string Category, Dictionary<string, string> Params, int Seeds, double?[] Mean, double?[] Sd, double TotalMean);

    /// <summary>Every planned run must be done; else one line saying how many are missing and the first.</summary>
    public static List<Row> Build(SweepPlan plan, string sweepDir)
    {
        var missing = new List<string>();
        foreach (var r in plan.Runs) if (!SweepRunner.IsDone(sweepDir, r)) missing.Add(r.Id);
        if (missing.Count > 0)
            throw new InvalidDataException($"{sweepDir}: {missing.Count} of {plan.Runs.Count} runs are not done (first: {missing[0]}); run the missing shards (or the sweep again) before merging");

        var rows = new List<Row>();
        foreach (var g in Settings(plan, _ => true))
        {
            var values = new List<double>[MetricKeys.Length];
            for (int m = 0; m < values.Length; m++) values[m] = [];
            double total = 0;
            bool[] complete = new bool[MetricKeys.Length];
            Array.Fill(complete, true);
            foreach (var r in g)
            {
                var (metrics, seconds) = ReadResult(Path.Combine(SweepRunner.RunDir(sweepDir, r), "results.json"));
                total += seconds;
                for (int m = 0; m < MetricKeys.Length; m++)
                    if (metrics.TryGetValue(MetricKeys[m], out double v)) values[m].Add(v); else complete[m] = false;
            }
            var mean = new double?[MetricKeys.Length];
            var sd = new double?[MetricKeys.Length];
            for (int m = 0; m < MetricKeys.Length; m++)
            {
                if (!complete[m]) continue;
                mean[m] = Mean(values[m]);
                if (values[m].Count > 1) sd[m] = SampleSd(values[m], mean[m]!.Value);
            }
            var p = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (k, v) in g[0].SettingParams) p[k] = SweepPlan.Display(v);
            rows.Add(new Row(g[0].Category, p, g.Count, mean, sd, total / g.Count));
        }
        return rows;
    }

    /// <summary>The runs of each setting (category × params without seed) that <paramref name="include"/> keeps, the
    /// settings in plan order.</summary>
    internal static List<List<SweepRun>> Settings(SweepPlan plan, Func<SweepRun, bool> include)
    {
        var groups = new Dictionary<string, List<SweepRun>>(StringComparer.Ordinal);
        var order = new List<List<SweepRun>>();
        foreach (var r in plan.Runs)
        {
            if (!include(r)) continue;
            if (!groups.TryGetValue(r.SettingKey, out var g)) { groups[r.SettingKey] = g = []; order.Add(g); }
            g.Add(r);
        }
        return order;
    }

    /// <summary>The param columns: every key but seed, in first-seen plan order.</summary>
    public static List<string> ParamColumns(SweepPlan plan)
    {
        var cols = new List<string>();
        foreach (var r in plan.Runs)
            foreach (var (k, _) in r.SettingParams)
                if (!cols.Contains(k)) cols.Add(k);
        return cols;
    }

    public static void Write(SweepPlan plan, string sweepDir)
    {
        var rows = Build(plan, sweepDir);
        var cols = ParamColumns(plan);
        AtomicFile.WriteAllText(Path.Combine(sweepDir, CsvFile), Csv(rows, cols));
        AtomicFile.WriteAllText(Path.Combine(sweepDir, MarkdownFile), Markdown(rows, cols));
        if (FineTuneCurves.HasFineTuning(plan)) FineTuneCurves.Write(plan, sweepDir);
    }

    static IEnumerable<string> Header(List<string> cols)
    {
        yield return "category";
        foreach (var c in cols) yield return c;
        yield return "n_seeds";
        foreach (var m in MetricKeys) { yield return m + "_mean"; yield return m + "_sd"; }
        yield return "total_s_mean";
    }

    public static string Csv(List<Row> rows, List<string> cols)
    {
        var sb = new StringBuilder();
        sb.Append(string.Join(",", Header(cols))).Append('\n');
        foreach (var r in rows) sb.Append(string.Join(",", Cells(r, cols, best: null).Select(CsvCell))).Append('\n');
        return sb.ToString();
    }

    public static string Markdown(List<Row> rows, List<string> cols)
    {
        // Best mean of each metric per category (every row reaching it is marked).
        var best = new Dictionary<(string, int), double>();
        foreach (var r in rows)
            for (int m = 0; m < MetricKeys.Length; m++)
                if (r.Mean[m] is double v)
                {
                    double shown = Math.Round(v * 100, 2);
                    if (!best.TryGetValue((r.Category, m), out double b) || shown > b) best[(r.Category, m)] = shown;
                }
        var header = Header(cols).ToList();
        var sb = new StringBuilder();
        sb.Append("| ").Append(string.Join(" | ", header)).Append(" |\n");
        sb.Append('|').Append(string.Concat(Enumerable.Repeat("---|", header.Count))).Append('\n');
        foreach (var r in rows) sb.Append("| ").Append(string.Join(" | ", Cells(r, cols, best))).Append(" |\n");
        sb.Append("\nMetrics in percent: mean ± sd (n−1) over seeds; **bold** = best mean of the metric in its category. total_s_mean is wall-clock seconds.\n");
        return sb.ToString();
    }

    static List<string> Cells(Row r, List<string> cols, Dictionary<(string, int), double>? best)
    {
        var cells = new List<string> { r.Category };
        foreach (var c in cols) cells.Add(r.Params.TryGetValue(c, out var v) ? v : "");
        cells.Add(r.Seeds.ToString(CultureInfo.InvariantCulture));
        for (int m = 0; m < MetricKeys.Length; m++)
        {
            string mean = Pct(r.Mean[m]);
            if (best != null && r.Mean[m] is double v && best.TryGetValue((r.Category, m), out double b) && Math.Round(v * 100, 2) == b)
                mean = "**" + mean + "**";
            cells.Add(mean);
            cells.Add(Pct(r.Sd[m]));
        }
        cells.Add(r.TotalMean.ToString("F2", CultureInfo.InvariantCulture));
        return cells;
    }

    public static string Pct(double? v) => v is double x ? (x * 100).ToString("F2", CultureInfo.InvariantCulture) : "";

    static string CsvCell(string s) =>
        s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;

    internal static double Mean(List<double> v)
    {
        double s = 0;
        foreach (double x in v) s += x;
        return s / v.Count;
    }

    internal static double SampleSd(List<double> v, double mean)
    {
        double s = 0;
        foreach (double x in v) s += (x - mean) * (x - mean);
        return Math.Sqrt(s / (v.Count - 1));
    }

    /// <summary>results.json's metrics (fractions) and timings_s.total.</summary>
    public static (Dictionary<string, double> Metrics, double TotalSeconds) ReadResult(string path)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(File.ReadAllText(path)); }
        catch (System.Text.Json.JsonException e) { throw new InvalidDataException($"{path}: not valid JSON: {ErrorText.OneLine(e.Message, 200)}"); }
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        if (root?["metrics"] is JsonObject m)
            foreach (var (k, v) in m)
                if (v is JsonValue jv && jv.TryGetValue(out double d)) metrics[k] = d;
        double total = root?["timings_s"]?["total"] is JsonValue t && t.TryGetValue(out double s) ? s : 0;
        return (metrics, total);
    }
}
