using System.Diagnostics;
using System.Text.Json;
using PatchCore.Backends;
using PatchCore.Data;
using PatchCore.FineTuning;
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
/// A run with a fine-tuning task (<see cref="SweepRun.FineTune"/>) first fine-tunes its backbone in-process
/// (<see cref="FineTuner"/>, on the category's train/good images, the run's seed) into
/// <c>runs/&lt;id&gt;/finetuned.safetensors</c>, with the per-epoch checkpoint beside it
/// (<c>finetuned.safetensors.ckpt</c>, kept when a killed run is redone, so the fine-tuning resumes from its last
/// epoch) and the per-epoch history in <c>finetune.json</c>; then runs PatchCore with <c>weights</c> = that file.
/// </summary>
public sealed class SweepRunner
{
    public const string DoneFile = "DONE";
    public const string ParamsFile = "params.json";
    public const string RunsFolder = "runs";
    public const string SweepFile = "sweep.json";
    public const string FineTunedFile = "finetuned.safetensors";
    public const string FineTuneCheckpointFile = FineTunedFile + ".ckpt";
    public const string FineTuneHistoryFile = "finetune.json";

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
        // A killed run's leftovers go, except a fine-tuning checkpoint: the fine-tuning resumes from it.
        if (Directory.Exists(dir)) ClearKilledRun(dir, r.FineTune != null ? FineTuneCheckpointFile : null);
        Directory.CreateDirectory(dir);
        AtomicFile.WriteAllText(Path.Combine(dir, ParamsFile),
            r.ParamsJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        if (!_data.TryGetValue(r.Category, out var data)) _data[r.Category] = data = _open(r.Category);
        if (!_weights.TryGetValue(r.Config.Weights, out var weights)) _weights[r.Config.Weights] = weights = _loadWeights(r.Config);
        var config = r.Config;
        if (r.FineTune != null)
        {
            weights = FineTune(r, r.FineTune, data.Data, weights, dir);
            config = config with { Weights = Path.Combine(dir, FineTunedFile) };
        }
        var runner = new Runner(_backend, config);
        var result = runner.Run(data.Data, dir, heatmaps: Heatmaps, weights: weights, synthetic: data.Synthetic, maps: Maps);
        AtomicFile.WriteAllText(Path.Combine(dir, DoneFile), "done\n");
        return result;
    }

    static void ClearKilledRun(string dir, string? keep)
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries(dir))
        {
            if (keep != null && Path.GetFileName(entry) == keep) continue;
            if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
            else File.Delete(entry);
        }
    }

    /// <summary>Fine-tunes <paramref name="baseWeights"/> on the category's train/good images as
    /// <c>pcnative finetune --resume</c> does; writes the weights and finetune.json into the run folder and returns
    /// the fine-tuned weights.</summary>
    WeightFile FineTune(SweepRun r, FineTuneConfig config, MvtecDataset data, WeightFile baseWeights, string dir)
    {
        if (_backend is not ITrainingBackend trainer)
            throw new NotSupportedException($"run {r.Id}: fine-tuning needs a backend that can train (cpu, cuda or reference), not {_backend.Name}");
        var paths = data.TrainImages.ToList();
        if (config.MaxImages > 0 && paths.Count > config.MaxImages) paths = paths.GetRange(0, config.MaxImages);
        var spec = new ResizeSpec(config.Resize, config.Crop);
        var norm = baseWeights.Metadata.ToNormalization();
        var images = new NominalImage[paths.Count];
        Parallel.For(0, paths.Count, i =>
            images[i] = new NominalImage(Preprocessing.ToInput(ImageFile.Decode(paths[i]), spec, norm), config.Crop, config.Crop, paths[i]));
        using IFineTuneTask task = config.Task switch
        {
            "rotation" => new RotationTask(),
            "contrastive" => new ContrastiveTask(config.Contrastive()),
            _ => throw new NotSupportedException($"run {r.Id}: fine-tuning task '{config.Task}' is not built"),
        };
        FineTuneResult result;
        try
        {
            result = new FineTuner(trainer, baseWeights, task, config, line => _log?.WriteLine($"  {r.Id}: finetune: {line}"))
                .Run(images, Path.Combine(dir, FineTuneCheckpointFile), resume: true);
        }
        catch (ArgumentException e) { throw new InvalidDataException($"run {r.Id}: fine-tuning: {e.Message}"); }
        string path = Path.Combine(dir, FineTunedFile);
        FineTuner.Save(result, path);
        var history = new System.Text.Json.Nodes.JsonObject
        {
            ["task"] = task.Name,
            ["base_sha256"] = baseWeights.Identity,
            ["config"] = System.Text.Json.Nodes.JsonNode.Parse(config.ToJson()),
            ["images"] = images.Length,
            // Through the checkpoint's options: a NaN (no held-out images) is written as "NaN".
            ["epochs"] = System.Text.Json.Nodes.JsonNode.Parse(JsonSerializer.Serialize(result.History, FineTuneCheckpoint.HistoryJson)),
        };
        AtomicFile.WriteAllText(Path.Combine(dir, FineTuneHistoryFile), history.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return WeightFile.Load(path);
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
