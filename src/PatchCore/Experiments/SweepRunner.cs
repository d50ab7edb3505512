using System.Diagnostics;
using System.Text.Json;
using PatchCore.Backends;
using PatchCore.Data;
using PatchCore.IO;
using PatchCore.Pipeline;
using PatchCore.Weights;

namespace PatchCore.Experiments;

/// <summary>A category's data for a sweep or a multi-category run; Synthetic marks the generated demo.</summary>
public sealed record CategoryData(MvtecDataset Data, bool Synthetic);

/// <summary>
/// Runs a sweep's runs (all, or one shard's) into the sweep folder, in-process through <see cref="Runner.Run"/>:
/// <c>DIR/sweep.json</c> (a copy of the file), <c>DIR/runs/&lt;id&gt;/</c> a normal run folder each with
/// <c>params.json</c>, and <c>DONE</c> written last. Resumable: a run with DONE is skipped; a run folder without
/// DONE (a killed run) is removed and redone. Weights are loaded once per file and datasets opened once per
/// category. One progress line per run on the log, with an ETA from the runs done so far.
/// </summary>
public sealed class SweepRunner
{
    public const string DoneFile = "DONE";
    public const string ParamsFile = "params.json";
    public const string RunsFolder = "runs";
    public const string SweepFile = "sweep.json";

    readonly IBackend _backend;
    readonly TextWriter? _log;
    readonly Func<string, CategoryData> _open;
    readonly Func<PatchCoreConfig, WeightFile> _loadWeights;
    readonly Dictionary<string, CategoryData> _data = new(StringComparer.Ordinal);
    readonly Dictionary<string, WeightFile> _weights = new(StringComparer.Ordinal);

    /// <param name="open">a category's data (the CLI resolves the data root and the synthetic demo).</param>
    /// <param name="loadWeights">the backbone weights of a config (null: <see cref="WeightLocator"/> on config.weights).</param>
    public SweepRunner(IBackend backend, Func<string, CategoryData> open, TextWriter? log = null,
        Func<PatchCoreConfig, WeightFile>? loadWeights = null)
    {
        _backend = backend; _open = open; _log = log;
        _loadWeights = loadWeights ?? (c =>
        {
            string path = WeightLocator.Find(c.Weights);
            if (!File.Exists(path)) throw new FileNotFoundException($"weights not found: {c.Weights} (a sweep's \"weights\" value, or --weights)");
            return WeightFile.Load(path);
        });
    }

    /// <summary>Heat-map PNGs per run (off by default: a sweep is about numbers).</summary>
    public bool Heatmaps { get; init; }
    /// <summary>Predicted masks and raw maps per run (off by default).</summary>
    public bool Maps { get; init; }

    /// <summary>How many runs were done now, and how many were found done already.</summary>
    public sealed record Outcome(int Ran, int Skipped);

    public static string RunDir(string sweepDir, SweepRun r) => Path.Combine(sweepDir, RunsFolder, r.Id);
    public static bool IsDone(string sweepDir, SweepRun r) => File.Exists(Path.Combine(RunDir(sweepDir, r), DoneFile));

    /// <summary>Make (or check) the sweep folder: it holds this sweep's file or none; another sweep's is refused.</summary>
    public static void Prepare(SweepPlan plan, string sweepDir)
    {
        Directory.CreateDirectory(Path.Combine(sweepDir, RunsFolder));
        CheckSameSweep(plan, sweepDir);
        string copy = Path.Combine(sweepDir, SweepFile);
        if (!File.Exists(copy)) AtomicFile.WriteAllText(copy, plan.Text);
    }

    /// <summary>A sweep folder belongs to one sweep file: resuming or merging with another is refused.</summary>
    public static void CheckSameSweep(SweepPlan plan, string sweepDir)
    {
        string copy = Path.Combine(sweepDir, SweepFile);
        if (File.Exists(copy) && File.ReadAllText(copy) != plan.Text)
            throw new InvalidDataException($"{sweepDir}: holds another sweep ({SweepFile} differs from {plan.Source}); use another --out");
    }

    public Outcome Run(SweepPlan plan, string sweepDir, IReadOnlyList<SweepRun> runs)
    {
        Prepare(plan, sweepDir);
        int ran = 0, skipped = 0;
        double spent = 0;
        int todo = 0;
        foreach (var r in runs) if (!IsDone(sweepDir, r)) todo++;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < runs.Count; i++)
        {
            var r = runs[i];
            string prefix = $"[{i + 1}/{runs.Count}] {r.Id}";
            if (IsDone(sweepDir, r)) { skipped++; _log?.WriteLine($"{prefix}: done already, skipped"); continue; }
            long t0 = Stopwatch.GetTimestamp();
            var result = RunOne(r, sweepDir);
            double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            spent += s;
            ran++;
            double eta = spent / ran * (todo - ran);
            _log?.WriteLine($"{prefix}: {Metrics(result.Metrics)}  {s:F1}s  (elapsed {Duration(clock.Elapsed.TotalSeconds)}, ETA {Duration(eta)})");
        }
        return new Outcome(ran, skipped);
    }

    RunResult RunOne(SweepRun r, string sweepDir)
    {
        string dir = RunDir(sweepDir, r);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); // a killed run's leftovers
        Directory.CreateDirectory(dir);
        AtomicFile.WriteAllText(Path.Combine(dir, ParamsFile),
            r.ParamsJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        if (!_data.TryGetValue(r.Category, out var data)) _data[r.Category] = data = _open(r.Category);
        if (!_weights.TryGetValue(r.Config.Weights, out var weights)) _weights[r.Config.Weights] = weights = _loadWeights(r.Config);
        var runner = new Runner(_backend, r.Config);
        var result = runner.Run(data.Data, dir, heatmaps: Heatmaps, weights: weights, synthetic: data.Synthetic, maps: Maps);
        AtomicFile.WriteAllText(Path.Combine(dir, DoneFile), "done\n");
        return result;
    }

    static string Metrics(Dictionary<string, double> m)
    {
        string P(string k, string label) => m.TryGetValue(k, out double v) ? $"{label} {v * 100:F2}" : $"{label} n/a";
        return $"{P("image_auroc", "image AUROC")}, {P("pixel_auroc", "pixel AUROC")}, {P("aupro", "AUPRO")}";
    }

    public static string Duration(double s)
    {
        var t = TimeSpan.FromSeconds(Math.Max(0, Math.Round(s)));
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : t.TotalMinutes >= 1 ? $"{t.Minutes}m{t.Seconds:D2}s" : $"{t.Seconds}s";
    }
}
