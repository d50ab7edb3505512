using System.Diagnostics;
using PatchCore.Backbone;
using PatchCore.Backends;
using PatchCore.Data;
using PatchCore.Features;
using PatchCore.IO;
using PatchCore.Metrics;
using PatchCore.Report;
using PatchCore.Scoring;
using PatchCore.Weights;

namespace PatchCore.Pipeline;

/// <summary>
/// Orchestration of a PatchCore run: the order of the stages, each timed and reporting progress (on <c>log</c>,
/// null = silent). Load the backbone, extract training features, build the memory bank
/// (<see cref="PatchCoreModel"/>), score the test images and make anomaly maps; then evaluation
/// (<see cref="Evaluation"/>), scores.csv (<see cref="ScoresCsv"/>), heat maps (<see cref="HeatmapWriter"/>)
/// and results.json (<see cref="RunResult"/>) are done by the folders that own them.
/// </summary>
public sealed partial class Runner
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
        new(_backend, net, Config.ResizeSpec, w.Metadata.ToNormalization(), Config.AggregationSpec, Config.BatchSize, Config.Threads);

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
        var samples = data.TestSamples;
        bool[]? masks = data.HasMasks ? Evaluation.LoadMasks(samples, Config.ResizeSpec, Config.Threads) : null;
        var labels = new bool[samples.Count];
        for (int i = 0; i < labels.Length; i++) labels[i] = samples[i].IsAnomalous;
        var evaluation = Evaluation.Compute(outputs.ImageScores, labels, outputs.Maps, masks, outputs.MapH, outputs.MapW);
        if (evaluation.ImageAuroc == null) Say("metrics: the test set has only one class; image AUROC is not computable");
        Timings.Metrics += Stopwatch.GetElapsedTime(tMetrics).TotalSeconds;

        long tReport = Stopwatch.GetTimestamp();
        Directory.CreateDirectory(outDir);
        AtomicFile.RemoveStale(outDir);
        var scored = new List<ScoredImage>(tests.Count);
        for (int i = 0; i < tests.Count; i++)
        {
            var t = samples[i];
            scored.Add(new ScoredImage(t.Path, Path.GetRelativePath(data.CategoryDir, t.Path).Replace('\\', '/'), t.DefectType, t.Label, outputs.ImageScores[i]));
        }
        if (heatmaps)
            WriteHeatmaps(Path.Combine(outDir, "heatmaps"), outputs, masks, model.Calibration, scored,
                i => Path.Combine(samples[i].DefectType, Path.GetFileNameWithoutExtension(samples[i].Path) + ".png"));
        WriteScores(Path.Combine(outDir, "scores.csv"), scored, withLabels: true);
        Timings.Report += Stopwatch.GetElapsedTime(tReport).TotalSeconds;
        Timings.Total = Stopwatch.GetElapsedTime(tTotal).TotalSeconds;

        var result = new RunResult
        {
            Category = data.Category, Config = Config.CapToBank(model.BankRows, Say), WeightsIdentity = w.Identity, Backend = _backend.Name,
            BackendDescription = _backend.Description, Metrics = evaluation.ToDictionary(), BankSize = model.BankRows,
            FeatureRows = data.TrainImages.Count * model.GridH * model.GridW,
            NTrain = data.TrainImages.Count, NTest = tests.Count, Timings = Timings, Images = scored, OutDir = outDir,
            Synthetic = synthetic,
        };
        result.WriteJson(Path.Combine(outDir, "results.json"));
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
        AtomicFile.RemoveStale(outDir);
        var scored = new List<ScoredImage>(images.Count);
        for (int i = 0; i < images.Count; i++)
            scored.Add(new ScoredImage(images[i], images[i], "", -1, outputs.ImageScores[i]));
        if (heatmaps)
        {
            var names = UniqueNames(images);
            WriteHeatmaps(Path.Combine(outDir, "heatmaps"), outputs, null, model.Calibration, scored, i => names[i]);
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

    void WriteHeatmaps(string dir, TestOutputs o, bool[]? masks, Calibration? calibration, List<ScoredImage> scored, Func<int, string> name)
    {
        using var bar = Bar("heat maps", o.ImageScores.Length);
        var set = new HeatmapSet(o.Crops!, o.Maps, o.MapH, o.MapW)
        {
            Truth = masks,
            PixelScale = calibration?.Pixel,
            RelativePath = name,
            Caption = i => new HeatmapCaption(scored[i].Name, scored[i].Score,
                calibration?.Image.Normalize(scored[i].Score), calibration?.Image.IsAnomalous(scored[i].Score)),
        };
        HeatmapWriter.WriteAll(dir, set, Config.Threads, bar);
    }

    static void WriteScores(string path, List<ScoredImage> images, bool withLabels)
    {
        var names = new string[images.Count];
        var scores = new float[images.Count];
        int[]? labels = withLabels ? new int[images.Count] : null;
        for (int i = 0; i < images.Count; i++)
        {
            names[i] = images[i].Name;
            scores[i] = images[i].Score;
            if (labels != null) labels[i] = images[i].Label;
        }
        ScoresCsv.Write(path, names, labels, scores);
    }
}
