using System.Globalization;
using System.Text;
using PatchCore.Backends;
using PatchCore.IO;
using PatchCore.Pipeline;
using PatchCore.Weights;

namespace PatchCore.Experiments;

/// <summary>
/// <c>run --category a,b</c> (or <c>all</c>): one normal run folder per category under the output folder
/// (<c>DIR/&lt;category&gt;/</c>), the weights loaded once, then <c>summary.csv</c> and <c>summary.md</c> with
/// columns <c>category,image_auroc,pixel_auroc,aupro,f1_max,total_s</c> (percent, 2 decimals) and a final
/// <c>mean</c> row (the mean over the categories that have the metric), like the official results.csv.
/// </summary>
public static class MultiCategoryRun
{
    public static readonly string[] Columns = ["image_auroc", "pixel_auroc", "aupro", "f1_max"];

    public sealed record Options(bool Heatmaps = true, bool Maps = true, bool HeatmapFull = false);

    public static List<RunResult> Run(IBackend backend, PatchCoreConfig config, IReadOnlyList<string> categories,
        Func<string, CategoryData> open, string outDir, Options options, TextWriter? log = null, bool interactive = false,
        WeightFile? weights = null)
    {
        var results = new List<RunResult>();
        for (int i = 0; i < categories.Count; i++)
        {
            string category = categories[i];
            log?.WriteLine($"== category {i + 1}/{categories.Count}: {category}");
            var data = open(category);
            var runner = new Runner(backend, config, log, interactive);
            weights ??= runner.LoadBackbone().Weights;
            var r = runner.Run(data.Data, Path.Combine(outDir, category), heatmaps: options.Heatmaps, weights: weights,
                synthetic: data.Synthetic, maps: options.Maps, heatmapFull: options.HeatmapFull);
            results.Add(r);
            log?.WriteLine($"== {category}: {Line(r)}");
        }
        AtomicFile.WriteAllText(Path.Combine(outDir, "summary.csv"), Csv(results));
        AtomicFile.WriteAllText(Path.Combine(outDir, "summary.md"), Markdown(results));
        return results;
    }

    static string Line(RunResult r)
    {
        var sb = new StringBuilder();
        foreach (var c in Columns) sb.Append(c).Append(' ').Append(r.Metrics.TryGetValue(c, out double v) ? SweepSummary.Pct(v) : "n/a").Append("  ");
        return sb.Append($"{r.Timings.Total:F1}s").ToString();
    }

    /// <summary>The table's rows: a row per category, then the mean row.</summary>
    public static List<string[]> Rows(IReadOnlyList<RunResult> results)
    {
        var rows = new List<string[]>();
        var sums = new double[Columns.Length];
        var counts = new int[Columns.Length];
        double total = 0;
        foreach (var r in results)
        {
            var row = new string[Columns.Length + 2];
            row[0] = r.Category;
            for (int c = 0; c < Columns.Length; c++)
            {
                if (r.Metrics.TryGetValue(Columns[c], out double v)) { row[c + 1] = SweepSummary.Pct(v); sums[c] += v; counts[c]++; }
                else row[c + 1] = "";
            }
            row[^1] = r.Timings.Total.ToString("F2", CultureInfo.InvariantCulture);
            total += r.Timings.Total;
            rows.Add(row);
        }
        var mean = new string[Columns.Length + 2];
        mean[0] = "mean";
        for (int c = 0; c < Columns.Length; c++) mean[c + 1] = counts[c] > 0 ? SweepSummary.Pct(sums[c] / counts[c]) : "";
        mean[^1] = (results.Count > 0 ? total / results.Count : 0).ToString("F2", CultureInfo.InvariantCulture);
        rows.Add(mean);
        return rows;
    }

    static string[] Header => ["category", .. Columns, "total_s"];

    public static string Csv(IReadOnlyList<RunResult> results)
    {
        var sb = new StringBuilder(string.Join(",", Header)).Append('\n');
        foreach (var row in Rows(results)) sb.Append(string.Join(",", row)).Append('\n');
        return sb.ToString();
    }

    public static string Markdown(IReadOnlyList<RunResult> results)
    {
        var sb = new StringBuilder("| ").Append(string.Join(" | ", Header)).Append(" |\n|");
        foreach (var _ in Header) sb.Append("---|");
        sb.Append('\n');
        foreach (var row in Rows(results)) sb.Append("| ").Append(string.Join(" | ", row)).Append(" |\n");
        sb.Append("\nMetrics in percent; total_s is wall-clock seconds; the mean row is over the categories.\n");
        return sb.ToString();
    }
}
