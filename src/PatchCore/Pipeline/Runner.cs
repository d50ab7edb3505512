using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using PatchCore.Backbone;
using PatchCore.Backends;
using PatchCore.Data;
using PatchCore.Features;
using PatchCore.Metrics;
using PatchCore.Report;
using PatchCore.Weights;

namespace PatchCore.Pipeline;

/// <summary>Wall-clock seconds per stage. Decode, Backbone and Aggregation are the parts of Features.</summary>
public sealed class StageTimings
{
    public double Load, Features, Coreset, Scoring, Maps, Metrics, Report, Total;
    public double Decode, Backbone, Aggregation;

    public JsonObject ToJson() => new()
    {
        ["load"] = R(Load), ["features"] = R(Features), ["coreset"] = R(Coreset), ["scoring"] = R(Scoring),
        ["maps"] = R(Maps), ["metrics"] = R(Metrics), ["report"] = R(Report), ["total"] = R(Total),
        ["decode"] = R(Decode), ["backbone"] = R(Backbone), ["aggregation"] = R(Aggregation),
    };

    static double R(double s) => Math.Round(s, 3);
}

/// <summary>One scored test image. Label is -1 for unlabelled images (predict).</summary>
public sealed record ScoredImage(string Path, string Name, string DefectType, int Label, float Score);

/// <summary>Scores and maps of a set of images, in input order.</summary>
public sealed record TestOutputs(float[] ImageScores, float[] PatchScores, float[] Maps, int MapH, int MapW, RgbImage[]? Crops);

/// <summary>What a run produced; written to results.json.</summary>
public sealed class RunResult
{
    public required string Category { get; init; }
    public required PatchCoreConfig Config { get; init; }
    public required string WeightsIdentity { get; init; }
    public required string Backend { get; init; }
    public required string BackendDescription { get; init; }
    /// <summary>image_auroc, pixel_auroc, aupro, f1_max as fractions; absent when not computable.</summary>
    public required Dictionary<string, double> Metrics { get; init; }
    public required int BankSize { get; init; }
    public required int FeatureRows { get; init; }
    public required int NTrain { get; init; }
    public required int NTest { get; init; }
    public required StageTimings Timings { get; init; }
    public required List<ScoredImage> Images { get; init; }
    public required string OutDir { get; init; }
    public bool Synthetic { get; init; }

    public JsonObject ToJson()
    {
        var metrics = new JsonObject();
        foreach (var (k, v) in Metrics) metrics[k] = Math.Round(v, 6);
        var config = System.Text.Json.JsonSerializer.SerializeToNode(Config, PatchCoreConfig.Json)!.AsObject();
        config["weights_sha256"] = WeightsIdentity;
        return new JsonObject
        {
            ["category"] = Category,
            ["synthetic"] = Synthetic,
            ["config"] = config,
            ["metrics"] = metrics,
            ["bank_size"] = BankSize,
            ["feature_rows"] = FeatureRows,
            ["n_train"] = NTrain,
            ["n_test"] = NTest,
            ["timings_s"] = Timings.ToJson(),
            ["backend"] = Backend,
            ["backend_description"] = BackendDescription,
        };
    }
}

/// <summary>
/// Orchestration of a PatchCore run: load the backbone, extract training features, build the memory bank
/// (<see cref="PatchCoreModel"/>), score the test images, make anomaly maps, compute metrics, write results,
/// scores and heat maps. Every stage is timed and reports progress (on <c>log</c>, null = silent).
/// </summary>
public sealed class Runner
{
    readonly IBackend _backend;
    readonly TextWriter? _log;
    readonly bool _interactive;

    public Runner(IBackend backend, PatchCoreConfig config, TextWriter? log = null, bool interactive = false)
    {
        _backend = backend; Config = config.Validate(); _log = log; _interactive = interactive;
    }

    public PatchCoreConfig Config { get; }
    public StageTimings Timings { get; } = new();

    ProgressBar Bar(string label, long total) => new(_log, label, total, _interactive);
    void Say(string line) => _log?.WriteLine(line);

    /// <summary>Load the weight file (unless given) and build the backbone on the backend.</summary>
    public (WeightFile Weights, ResNet Net) LoadBackbone(WeightFile? weights = null)
    {
        long t0 = Stopwatch.GetTimestamp();
        if (weights == null)
        {
            string path = WeightLocator.Find(Config.Weights);
            if (!File.Exists(path))
                throw new FileNotFoundException($"weights not found: {Config.Weights} (./build.sh makes weights/resnet18-cntk.safetensors; or pass --weights)");
            weights = WeightFile.Load(path);
        }
        var net = ResNet.Load(_backend, weights);
        Timings.Load += Stopwatch.GetElapsedTime(t0).TotalSeconds;
        return (weights, net);
    }

    PatchFeatureExtractor Extractor(ResNet net, WeightFile w) =>
        new(_backend, net, Config.ResizeSpec, Normalization.From(w.Metadata), Config.AggregationSpec, Config.BatchSize, Config.Threads);

    void AddExtractionTimes(PatchFeatureExtractor ex)
    {
        Timings.Decode += ex.Times.Decode;
        Timings.Backbone += ex.Times.Backbone;
        Timings.Aggregation += ex.Times.Aggregation;
    }

    /// <summary>Training features → memory bank.</summary>
    public PatchCoreModel Fit(ResNet net, WeightFile weights, IReadOnlyList<string> trainImages)
    {
        if (trainImages.Count == 0) throw new InvalidDataException("no training images");
        var ex = Extractor(net, weights);
        float[]? all = null;
        int gh = 0, gw = 0, dim = 0;
        long t0 = Stopwatch.GetTimestamp();
        using (var bar = Bar("features (train)", trainImages.Count))
        {
            foreach (var b in ex.Extract(trainImages))
            {
                if (all == null)
                {
                    gh = b.GridH; gw = b.GridW; dim = b.Dim;
                    long total = (long)trainImages.Count * gh * gw * dim;
                    if (total > Array.MaxLength)
                        throw new InvalidDataException($"{trainImages.Count} training images give {total} feature values, more than one bank can hold; use fewer images or a smaller target dim");
                    all = GC.AllocateUninitializedArray<float>((int)total); // every batch is copied in
                }
                Array.Copy(b.Features, 0, all, (long)b.Start * gh * gw * dim, b.Features.LongLength);
                bar.Advance(b.Count);
            }
        }
        Timings.Features += Stopwatch.GetElapsedTime(t0).TotalSeconds;
        AddExtractionTimes(ex);

        int rows = trainImages.Count * gh * gw;
        long t1 = Stopwatch.GetTimestamp();
        string what = Config.Coreset >= 1 ? "all features kept (coreset 100%)"
            : $"approximate greedy coreset {Config.Coreset * 100:G4}% of {rows} patches ({(int)(rows * Config.Coreset)} rows, {Config.Projection} projection to {Config.ProjectionDim})";
        Say($"memory bank: {what}");
        var model = PatchCoreModel.Fit(_backend, Config, all!, rows, dim, gh, gw, weights.Identity, trainImages.Count);
        Timings.Coreset += Stopwatch.GetElapsedTime(t1).TotalSeconds;
        Say($"memory bank: {model.BankRows} x {model.Dim} ({Stopwatch.GetElapsedTime(t1).TotalSeconds:F1}s)");
        return model;
    }

    /// <summary>Scores and anomaly maps (crop x crop) of images, batch by batch.</summary>
    public TestOutputs Score(PatchCoreModel model, ResNet net, WeightFile weights, IReadOnlyList<string> images, bool keepCrops, string label = "scoring (test)")
    {
        var ex = Extractor(net, weights);
        int n = images.Count, size = Config.ResizeSpec.Crop, per = model.GridH * model.GridW;
        var imageScores = new float[n];
        var patchScores = new float[(long)n * per];
        var maps = new float[(long)n * size * size];
        var crops = keepCrops ? new RgbImage[n] : null;
        double features = 0;
        using (var bar = Bar(label, n))
        {
            using var e = ex.Extract(images, keepCrops).GetEnumerator();
            while (true)
            {
                long tf = Stopwatch.GetTimestamp();
                bool more = e.MoveNext();
                features += Stopwatch.GetElapsedTime(tf).TotalSeconds;
                if (!more) break;
                var b = e.Current;
                model.CheckCompatible(weights.Identity, b.Dim, b.GridH, b.GridW);
                long ts = Stopwatch.GetTimestamp();
                var s = model.Score(_backend, b.Features, b.Count);
                Timings.Scoring += Stopwatch.GetElapsedTime(ts).TotalSeconds;
                long tm = Stopwatch.GetTimestamp();
                var m = model.Maps(_backend, s, size, size);
                Timings.Maps += Stopwatch.GetElapsedTime(tm).TotalSeconds;
                Array.Copy(s.Image, 0, imageScores, b.Start, b.Count);
                Array.Copy(s.Patch, 0, patchScores, (long)b.Start * per, s.Patch.LongLength);
                Array.Copy(m, 0, maps, (long)b.Start * size * size, m.LongLength);
                if (crops != null) Array.Copy(b.Crops!, 0, crops, b.Start, b.Count);
                bar.Advance(b.Count);
            }
        }
        Timings.Features += features;
        AddExtractionTimes(ex);
        return new TestOutputs(imageScores, patchScores, maps, size, size, crops);
    }

    /// <summary>Fit on train/good, score the test set, compute metrics, write results.json, scores.csv and heat maps.</summary>
    public RunResult Run(MvtecDataset data, string outDir, bool heatmaps = true, WeightFile? weights = null,
        bool synthetic = false, string? modelPath = null)
    {
        long tTotal = Stopwatch.GetTimestamp();
        var (w, net) = LoadBackbone(weights);
        using var _ = net;
        using var model = Fit(net, w, data.TrainImages);
        if (modelPath != null) ModelFile.Save(model, modelPath);
        var tests = data.TestSamples.Select(t => t.Path).ToList();
        var outputs = Score(model, net, w, tests, keepCrops: heatmaps);

        long tMetrics = Stopwatch.GetTimestamp();
        int size = outputs.MapH;
        bool[]? masks = data.HasMasks ? LoadMasks(data.TestSamples, size) : null;
        var metrics = ComputeMetrics(outputs, data.TestSamples, masks);
        Timings.Metrics += Stopwatch.GetElapsedTime(tMetrics).TotalSeconds;

        long tReport = Stopwatch.GetTimestamp();
        Directory.CreateDirectory(outDir);
        var scored = new List<ScoredImage>(tests.Count);
        for (int i = 0; i < tests.Count; i++)
        {
            var t = data.TestSamples[i];
            scored.Add(new ScoredImage(t.Path, Path.GetRelativePath(data.CategoryDir, t.Path).Replace('\\', '/'), t.DefectType, t.Label, outputs.ImageScores[i]));
        }
        if (heatmaps)
            WriteHeatmaps(Path.Combine(outDir, "heatmaps"), outputs, masks,
                i => Path.Combine(data.TestSamples[i].DefectType, Path.GetFileNameWithoutExtension(data.TestSamples[i].Path) + ".png"));
        WriteScores(Path.Combine(outDir, "scores.csv"), scored, withLabels: true);
        Timings.Report += Stopwatch.GetElapsedTime(tReport).TotalSeconds;
        Timings.Total = Stopwatch.GetElapsedTime(tTotal).TotalSeconds;

        var result = new RunResult
        {
            Category = data.Category, Config = Config, WeightsIdentity = w.Identity, Backend = _backend.Name,
            BackendDescription = _backend.Description, Metrics = metrics, BankSize = model.BankRows,
            FeatureRows = data.TrainImages.Count * model.GridH * model.GridW,
            NTrain = data.TrainImages.Count, NTest = tests.Count, Timings = Timings, Images = scored, OutDir = outDir,
            Synthetic = synthetic,
        };
        AtomicFile.WriteAllText(Path.Combine(outDir, "results.json"), result.ToJson().ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
        return result;
    }

    /// <summary>Score unlabelled images with a fitted model; write scores.csv (path,score) and heat maps.</summary>
    public List<ScoredImage> Predict(PatchCoreModel model, IReadOnlyList<string> images, string outDir, bool heatmaps = true, WeightFile? weights = null)
    {
        long tTotal = Stopwatch.GetTimestamp();
        var (w, net) = LoadBackbone(weights);
        using var _ = net;
        model.CheckCompatible(w.Identity, model.Dim, model.GridH, model.GridW, "model");
        var outputs = Score(model, net, w, images, keepCrops: heatmaps, label: "scoring");
        long tReport = Stopwatch.GetTimestamp();
        Directory.CreateDirectory(outDir);
        var scored = new List<ScoredImage>(images.Count);
        for (int i = 0; i < images.Count; i++)
            scored.Add(new ScoredImage(images[i], images[i], "", -1, outputs.ImageScores[i]));
        if (heatmaps)
        {
            var names = UniqueNames(images);
            WriteHeatmaps(Path.Combine(outDir, "heatmaps"), outputs, null, i => names[i]);
        }
        WriteScores(Path.Combine(outDir, "scores.csv"), scored, withLabels: false);
        Timings.Report += Stopwatch.GetElapsedTime(tReport).TotalSeconds;
        Timings.Total = Stopwatch.GetElapsedTime(tTotal).TotalSeconds;
        return scored;
    }

    static string[] UniqueNames(IReadOnlyList<string> images)
    {
        var names = new string[images.Count];
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < images.Count; i++)
        {
            string stem = Path.GetFileNameWithoutExtension(images[i]);
            string name = stem + ".png";
            for (int j = 2; !seen.Add(name); j++) name = $"{stem}_{j}.png";
            names[i] = name;
        }
        return names;
    }

    /// <summary>Ground truth of the test set, [n * size * size], all false for normal images.</summary>
    bool[] LoadMasks(IReadOnlyList<TestSample> samples, int size)
    {
        int plane = size * size;
        var masks = new bool[(long)samples.Count * plane];
        Workers.For(samples.Count, Config.Threads, i =>
        {
            if (samples[i].MaskPath is not { } p) return;
            var m = Preprocessing.ToMask(ImageIO.Decode(p), Config.ResizeSpec);
            if (m.Length != plane) throw new InvalidDataException($"{p}: mask gives {m.Length} pixels, expected {plane}");
            Array.Copy(m, 0, masks, (long)i * plane, plane);
        });
        return masks;
    }

    /// <summary>Image AUROC and F1-max over image scores; pixel AUROC and AUPRO when masks exist. A metric
    /// that needs both classes is left out when one is missing.</summary>
    Dictionary<string, double> ComputeMetrics(TestOutputs o, IReadOnlyList<TestSample> samples, bool[]? masks)
    {
        var m = new Dictionary<string, double>();
        var labels = samples.Select(s => s.IsAnomalous).ToArray();
        bool bothImage = labels.Contains(true) && labels.Contains(false);
        if (bothImage)
        {
            m["image_auroc"] = Auroc.Compute(o.ImageScores, labels);
            m["f1_max"] = F1Max.Compute(o.ImageScores, labels).F1;
        }
        else Say("metrics: the test set has only one class; image AUROC is not computable");
        if (masks != null)
        {
            bool anyPos = Array.IndexOf(masks, true) >= 0, anyNeg = Array.IndexOf(masks, false) >= 0;
            if (anyPos && anyNeg)
            {
                m["pixel_auroc"] = Auroc.Compute(o.Maps, masks);
                m["aupro"] = Aupro.Compute(o.Maps, masks, samples.Count, o.MapH, o.MapW);
            }
        }
        return m;
    }

    void WriteHeatmaps(string dir, TestOutputs o, bool[]? masks, Func<int, string> name)
    {
        // One colour scale for the whole set (min..max of every map), so colours compare across images.
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        foreach (float v in o.Maps) { if (v < lo) lo = v; if (v > hi) hi = v; }
        int plane = o.MapH * o.MapW, n = o.ImageScores.Length;
        using var bar = Bar("heat maps", n);
        Workers.For(n, Config.Threads, i =>
        {
            bool[]? mask = null;
            if (masks != null)
            {
                mask = new bool[plane];
                Array.Copy(masks, (long)i * plane, mask, 0, plane);
                if (Array.IndexOf(mask, true) < 0) mask = null;
            }
            Heatmap.Write(Path.Combine(dir, name(i)), o.Crops![i], o.Maps.AsSpan(i * plane, plane), mask, lo, hi);
            bar.Advance();
        });
    }

    static void WriteScores(string path, List<ScoredImage> images, bool withLabels)
    {
        var sb = new StringBuilder(withLabels ? "path,label,score\n" : "path,score\n");
        foreach (var s in images)
        {
            sb.Append(Csv(s.Name)).Append(',');
            if (withLabels) sb.Append(s.Label).Append(',');
            sb.Append(s.Score.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        }
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    static string Csv(string s) => s.IndexOfAny([',', '"', '\n']) < 0 ? s : "\"" + s.Replace("\"", "\"\"") + "\"";
}
