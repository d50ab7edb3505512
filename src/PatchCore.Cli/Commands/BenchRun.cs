using System.Text.Json.Nodes;
using PatchCore.IO;
using PatchCore.Pipeline;

namespace PatchCore.Cli.Commands;

/// <summary>
/// `pcnative bench run`: one whole run (default config, no heat maps), timed stage by stage. Decode is CPU time
/// on the decode threads, which overlaps the backbone, so the stage rows can add up to more than the total.
/// </summary>
public static class BenchRun
{
    public static int Run(BenchCommand o)
    {
        var config = new PatchCoreConfig { Weights = o.Weights ?? PatchCoreConfig.DefaultWeights, Threads = o.Threads }.Validate();
        var data = DatasetArgs.Resolve(o.Category, o.DataRoot, out bool synthetic);
        using var backend = BackendFactory.Create(new BackendFactory.Options(o.Backend, o.Threads, o.Tf32));
        int repeats = o.Repeats > 0 ? o.Repeats : 1;
        var runs = new List<RunResult>();
        for (int r = 0; r < repeats; r++)
        {
            string outDir = Path.Combine(Path.GetTempPath(), "pcnative-bench-" + Guid.NewGuid().ToString("N")[..8]);
            try
            {
                var runner = new Runner(backend, config, Console.Error, !Console.IsErrorRedirected);
                runs.Add(runner.Run(data, outDir, heatmaps: false, synthetic: synthetic));
            }
            finally
            {
                if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
            }
        }

        var best = runs.MinBy(x => x.Timings.Total)!;
        var t = best.Timings;
        int images = best.NTrain + best.NTest;
        var w = Console.Out;
        w.WriteLine();
        w.WriteLine($"bench run: {best.Category}{(synthetic ? " (synthetic)" : "")}, {best.NTrain} train + {best.NTest} test images, backend {backend.Name}: {backend.Description}");
        w.WriteLine($"  coreset {config.Coreset * 100:G4}% -> bank {best.BankSize} x {config.TargetDim}; best of {repeats}");
        w.WriteLine("  stage          seconds   ms/image");
        void Row(string name, double s, int n) => w.WriteLine($"  {name,-13} {s,8:F2}   {(n > 0 ? (s * 1000 / n).ToString("F1") : ""),8}");
        Row("load", t.Load, 0);
        Row("decode*", t.Decode, images);
        Row("backbone", t.Backbone, images);
        Row("aggregation", t.Aggregation, images);
        Row("features", t.Features, images);
        Row("coreset", t.Coreset, 0);
        Row("scoring", t.Scoring, best.NTest);
        Row("maps", t.Maps, best.NTest);
        Row("metrics", t.Metrics, 0);
        Row("total", t.Total, images);
        w.WriteLine("  * decode = CPU seconds on the decode threads, overlapped with the backbone (part of features).");
        foreach (var (k, v) in best.Metrics) w.WriteLine($"  {k,-13} {v * 100,8:F2} %");

        if (o.Json != null)
        {
            var json = best.ToJson();
            json["repeats"] = repeats;
            json["all_totals_s"] = new JsonArray(runs.Select(x => (JsonNode)Math.Round(x.Timings.Total, 3)).ToArray());
            AtomicFile.WriteAllText(o.Json, json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
        }
        return 0;
    }
}
