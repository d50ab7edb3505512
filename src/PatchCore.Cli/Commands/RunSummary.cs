using PatchCore.Pipeline;

namespace PatchCore.Cli.Commands;

/// <summary>The one-screen summary of a run, on stdout.</summary>
public static class RunSummary
{
    /// <param name="outDir">Where the results were published (the run wrote into a work folder).</param>
    public static void Print(TextWriter w, RunResult r, string? outDir = null)
    {
        var c = r.Config;
        w.WriteLine();
        w.WriteLine($"pcnative run: {r.Category}{(r.Synthetic ? "  (SYNTHETIC demo data, not a benchmark)" : "")}");
        w.WriteLine($"  backend      {r.Backend}: {r.BackendDescription}");
        w.WriteLine($"  weights      {c.Weights} (sha256 {Short(r.WeightsIdentity)})");
        w.WriteLine($"  input        {(c.SquareResize ? $"{c.Resize}x{c.Resize}" : $"resize {c.Resize}, crop {c.Crop}")}, aggregation {c.Aggregation} -> {c.TargetDim}-d");
        w.WriteLine($"  images       {r.NTrain} train, {r.NTest} test");
        w.WriteLine($"  memory bank  {r.BankSize} of {r.FeatureRows} patches (coreset {c.Coreset * 100:G4}%), k = {c.K}, {c.ScoreDistance} distance{(c.Reweight ? ", eq.7 reweighting" : "")}");
        w.WriteLine();
        w.WriteLine("  metric          %");
        Metric(w, r, "image_auroc", "image AUROC");
        Metric(w, r, "pixel_auroc", "pixel AUROC");
        Metric(w, r, "aupro", "AUPRO (0.3)");
        Metric(w, r, "f1_max", "F1-max (image)");
        w.WriteLine();
        if (r.Calibration is { } cal)
        {
            w.WriteLine($"  threshold    image {cal.Image.Threshold:G6}, pixel {cal.Pixel.Threshold:G6} (false-alarm rate {cal.FalseAlarmRate:G4} asked, {cal.PromisedFalseAlarmRate * 100:G3}% promised by {cal.NominalImages} images, {(cal.Source.StartsWith("leave-one-out", StringComparison.Ordinal) ? "leave-one-out" : cal.Source)})");
            if (r.Decisions is { } d)
                w.WriteLine($"  decisions    false alarms {Pct(d.FalseAlarmRate)} ({d.FalsePositives}/{d.Good} good), misses {Pct(d.MissRate)} ({d.FalseNegatives}/{d.Anomalous} anomalous), accuracy {d.Accuracy * 100:F1}%");
            w.WriteLine();
        }
        else
        {
            w.WriteLine("  threshold    none (--calibration-images 0): no decisions");
            w.WriteLine();
        }
        var t = r.Timings;
        w.WriteLine("  stage           s");
        Row(w, "load", t.Load);
        Row(w, "features", t.Features);
        Row(w, "coreset", t.Coreset);
        Row(w, "scoring", t.Scoring);
        Row(w, "maps", t.Maps);
        Row(w, "metrics", t.Metrics);
        Row(w, "calibration", t.Calibration);
        Row(w, "report", t.Report);
        Row(w, "total", t.Total);
        w.WriteLine();
        w.WriteLine($"  output       {Path.GetFullPath(outDir ?? r.OutDir)}");
    }

    static void Metric(TextWriter w, RunResult r, string key, string label) =>
        w.WriteLine(r.Metrics.TryGetValue(key, out double v) ? $"  {label,-15} {v * 100,6:F2}" : $"  {label,-15}    n/a");

    static void Row(TextWriter w, string label, double s) => w.WriteLine($"  {label,-15} {s,6:F2}");

    static string Pct(double? v) => v is double x ? $"{x * 100:F1}%" : "n/a";

    static string Short(string sha) => string.IsNullOrEmpty(sha) ? "?" : sha[..Math.Min(12, sha.Length)];
}
