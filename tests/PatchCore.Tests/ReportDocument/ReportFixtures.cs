using System.Globalization;
using System.Text;
using PatchCore.IO;

namespace PatchCore.Tests.ReportDocument;

/// <summary>
/// Small fake run and sweep folders in the formats `run` and `sweep` write (results.json, scores.csv, heatmaps/,
/// optional curves.json and params.json, sweep.json), with scores drawn from a seeded generator so each run differs.
/// </summary>
static class ReportFixtures
{
    static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A run folder: 6 good and 6 defective test images of two defect types; metrics depend on coreset and seed.</summary>
    public static string Run(string dir, string category, double coreset, int seed, bool curves = false, bool heatmaps = true,
        string backend = "cpu", bool withParams = false)
    {
        Directory.CreateDirectory(dir);
        var rng = new Random(seed * 31 + (int)(coreset * 1000) + category.Length);
        var sb = new StringBuilder("path,defect_type,truth,score,normalized_score,label\n");
        var rows = new List<(string Type, string Name, int Truth, double Score)>();
        for (int i = 0; i < 6; i++) rows.Add(("good", $"{i:000}.png", 0, 1 + rng.NextDouble()));
        for (int i = 0; i < 6; i++) rows.Add((i < 3 ? "crack" : "hole", $"{i:000}.png", 1, 1.6 + rng.NextDouble()));
        const double threshold = 2.0;
        foreach (var r in rows)
            sb.Append($"test/{r.Type}/{r.Name},{r.Type},{r.Truth},{F(r.Score)},{F(r.Score / 4)},{(r.Score >= threshold ? 1 : 0)}\n");
        File.WriteAllText(Path.Combine(dir, "scores.csv"), sb.ToString());
        if (heatmaps)
            foreach (var r in rows)
            {
                string p = Path.Combine(dir, "heatmaps", r.Type, r.Name);
                Directory.CreateDirectory(Path.GetDirectoryName(p)!);
                var px = new byte[40 * 20 * 3];
                for (int k = 0; k < px.Length; k++) px[k] = (byte)(k * 7 + r.Score * 50);
                ImageFile.WritePng(p, 40, 20, 3, px);
            }
        double auroc = 0.9 + 0.05 * coreset + 0.01 * seed;
        string perType = withCurves(curves);
        string json = $$"""
            {
              "category": "{{category}}",
              "config": { "weights": "weights/resnet18-cntk.safetensors", "coreset": {{F(coreset)}}, "seed": {{seed}}, "k": 1, "sigma": 4 },
              "metrics": { "image_auroc": {{F(auroc)}}, "f1_max": 0.9, "pixel_auroc": 0.95, "aupro": 0.85,
                "per_defect_type": { "crack": { "image_auroc": 1, "n": 3{{perType}} }, "hole": { "image_auroc": 0.8, "n": 3{{perType}} } } },
              "bank_size": 100, "n_train": 20, "n_test": 12,
              "timings_s": { "load": 0.5, "features": 2.0, "coreset": {{F(10 * coreset)}}, "scoring": 0.4, "maps": 0.1, "total": {{F(3 + 10 * coreset)}}, "decode": 0.3 },
              "backend": "{{backend}}",
              "calibration": { "image": { "threshold": {{F(threshold)}} } }
            }
            """;
        File.WriteAllText(Path.Combine(dir, "results.json"), json);
        if (curves)
            File.WriteAllText(Path.Combine(dir, "curves.json"), """
                {"image": {"roc": {"fpr": [0, 0, 0.5, 1], "tpr": [0, 0.5, 1, 1], "thresholds": [9, 3, 2, 1]},
                           "pr": {"recall": [0, 0.5, 1], "precision": [1, 1, 0.67], "thresholds": [9, 3, 2]}},
                 "pixel": {"roc": {"fpr": [0, 0.1, 1], "tpr": [0, 0.8, 1], "thresholds": [5, 2, 0]},
                           "pr": {"recall": [0, 0.8, 1], "precision": [1, 0.5, 0.1], "thresholds": [5, 2, 0]}},
                 "pro": {"fpr": [0, 0.1, 0.3, 1], "pro": [0, 0.6, 0.9, 1]}}
                """);
        if (withParams)
            File.WriteAllText(Path.Combine(dir, "params.json"),
                "{\"category\": \"" + category + "\", \"params\": {\"coreset\": " + F(coreset) + ", \"seed\": " + seed + "}}");
        return dir;

        static string withCurves(bool c) => c ? ", \"pixel_auroc\": 0.9, \"aupro\": 0.7" : "";
    }

    /// <summary>A sweep folder: sweep.json, runs/&lt;id&gt;/ with params.json and DONE, over categories × coreset × seed.</summary>
    public static string Sweep(string dir, string[] categories, double[] coresets, int[] seeds)
    {
        Directory.CreateDirectory(dir);
        var grid = $"{{\"coreset\": [{string.Join(", ", coresets.Select(F))}], \"seed\": [{string.Join(", ", seeds)}]}}";
        File.WriteAllText(Path.Combine(dir, "sweep.json"),
            $"{{\"categories\": [{string.Join(", ", categories.Select(c => $"\"{c}\""))}], \"data_root\": \"/data\", \"grid\": {grid}}}");
        foreach (var c in categories)
            foreach (var cs in coresets)
                foreach (var s in seeds)
                {
                    string run = Run(Path.Combine(dir, "runs", $"{c}-coreset{F(cs)}-seed{s}"), c, cs, s, heatmaps: false, withParams: true);
                    File.WriteAllText(Path.Combine(run, "DONE"), "");
                }
        return dir;
    }
}
