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
    public PatchCoreModel Fit(ResNet net, WeightFile weights, IReadOnlyList<string> trainImages) =>
        Fit(net, weights, trainImages, out _);

    /// <summary>Training features → memory bank; <paramref name="features"/> keeps the features [images · grid, dim]
    /// for leave-one-out calibration (no second pass through the backbone).</summary>
    public PatchCoreModel Fit(ResNet net, WeightFile weights, IReadOnlyList<string> trainImages, out TrainFeatures features)
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
        features = new TrainFeatures(all!, trainImages.Count, gh, gw, dim);
        return model;
    }

    /// <summary>Scores and anomaly maps (crop x crop) of images, batch by batch. With
    /// <paramref name="tolerateBadImages"/> an image that cannot be read is reported in
    /// <see cref="TestOutputs.Errors"/> (its scores are meaningless) instead of stopping the others.</summary>
    public TestOutputs Score(PatchCoreModel model, ResNet net, WeightFile weights, IReadOnlyList<string> images, bool keepCrops,
        string label = "scoring (test)", bool tolerateBadImages = false)
    {
        var ex = new PatchFeatureExtractor(_backend, net, Config.ResizeSpec, weights.Metadata.ToNormalization(), Config.AggregationSpec,
            Config.BatchSize, Config.Threads) { TolerateBadImages = tolerateBadImages };
        int n = images.Count, size = Config.ResizeSpec.Crop, per = model.GridH * model.GridW;
        var imageScores = new float[n];
        var patchScores = new float[(long)n * per];
        var maps = new float[(long)n * size * size];
        var crops = keepCrops ? new RgbImage[n] : null;
        string?[]? errors = null;
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
                if (b.Errors != null) Array.Copy(b.Errors, 0, errors ??= new string?[n], b.Start, b.Count);
                bar.Advance(b.Count);
            }
        }
        Timings.Features += features;
        AddExtractionTimes(ex);
        return new TestOutputs(imageScores, patchScores, maps, size, size, crops) { Errors = errors };
    }

    /// <summary>
    /// Fit on train/good, calibrate by leave-one-out (the bank stays all of train/good: the official protocol, so
    /// scores and metrics do not move), score the test set, compute metrics and decisions, write results.json,
    /// scores.csv, heat maps, predicted masks and raw maps.
    /// </summary>
    public RunResult Run(MvtecDataset data, string outDir, bool heatmaps = true, WeightFile? weights = null,
        bool synthetic = false, string? modelPath = null, bool maps = true, bool heatmapFull = false)
    {
        long tTotal = Stopwatch.GetTimestamp();
        var (w, net) = LoadBackbone(weights);
        using var _ = net;
        using var model = Fit(net, w, data.TrainImages, out var trainFeatures);
        model.Calibration = CalibrateLeaveOneOut(model, trainFeatures, Config.CalibrationImages ?? PatchCoreConfig.RunCalibrationImages);
        trainFeatures = null!; // hundreds of MB for a real category: free them before the test set
        if (modelPath != null) ModelFile.Save(model, modelPath, w);
        return TestAndReport(model, net, w, data, outDir, heatmaps, maps, heatmapFull, tTotal,
            data.TrainImages.Count, synthetic, modelPath: null);
    }

    /// <summary>
    /// The part of <see cref="Run"/> and <see cref="Evaluate"/> after the model exists: score the labelled test set,
    /// compute metrics, per-defect-type AUROC and decisions (adding the F1-optimal thresholds to the calibration),
    /// write results.json, scores.csv, heat maps, predicted masks and raw maps.
    /// </summary>
    RunResult TestAndReport(PatchCoreModel model, ResNet net, WeightFile w, MvtecDataset data, string outDir,
        bool heatmaps, bool maps, bool heatmapFull, long tTotal, int nTrain, bool synthetic, string? modelPath)
    {
        var samples = data.TestSamples;
        var tests = new List<string>(samples.Count);
        foreach (var t in samples) tests.Add(t.Path);
        var outputs = Score(model, net, w, tests, keepCrops: heatmaps);

        long tMetrics = Stopwatch.GetTimestamp();
        bool[]? masks = data.HasMasks ? Evaluation.LoadMasks(samples, Config.ResizeSpec, Config.Threads) : null;
        var labels = new bool[samples.Count];
        for (int i = 0; i < labels.Length; i++) labels[i] = samples[i].IsAnomalous;
        var types = new string[samples.Count];
        for (int i = 0; i < types.Length; i++) types[i] = samples[i].DefectType;
        var report = Evaluation.ComputeReport(outputs.ImageScores, labels, types, outputs.Maps, masks, outputs.MapH, outputs.MapW);
        var evaluation = report.Metrics;
        if (evaluation.ImageAuroc == null) Say("metrics: the test set has only one class; image AUROC is not computable");
        Timings.Metrics += Stopwatch.GetElapsedTime(tMetrics).TotalSeconds;
        long tCal = Stopwatch.GetTimestamp();
        if (model.Calibration != null) model.Calibration = WithF1Thresholds(model.Calibration, outputs, labels, masks);
        var decisions = model.Calibration != null ? DecisionCounts.Compute(outputs.ImageScores, labels, model.Calibration.Image) : null;
        Timings.Calibration += Stopwatch.GetElapsedTime(tCal).TotalSeconds;

        long tReport = Stopwatch.GetTimestamp();
        Directory.CreateDirectory(outDir);
        AtomicFile.RemoveStale(outDir);
        var rel = new string[samples.Count];
        for (int i = 0; i < rel.Length; i++) rel[i] = samples[i].DefectType + "/" + Path.GetFileName(samples[i].Path);
        var stems = OutputNames.UniqueStems(rel);
        var cal = model.Calibration;
        var scored = new List<ScoredImage>(tests.Count);
        for (int i = 0; i < tests.Count; i++)
        {
            var t = samples[i];
            float score = outputs.ImageScores[i];
            scored.Add(new ScoredImage(t.Path, Path.GetRelativePath(data.CategoryDir, t.Path).Replace('\\', '/'), t.DefectType, t.Label, score)
            {
                Normalized = cal?.Image.Normalize(score), Anomalous = cal?.Image.IsAnomalous(score),
                Heatmap = heatmaps ? "heatmaps/" + stems[i] + ".png" : "",
            });
        }
        var predicted = cal != null && (heatmaps || maps) ? DecisionMapsWriter.Predict(outputs.Maps, cal.Pixel.Threshold) : null;
        if (heatmaps)
            WriteHeatmaps(Path.Combine(outDir, "heatmaps"), outputs, masks, predicted, cal, scored, i => stems[i] + ".png",
                heatmapFull ? i => tests[i] : null);
        if (maps)
            DecisionMapsWriter.WriteAll(outDir, outputs.Maps, outputs.MapH, outputs.MapW, tests.Count, i => stems[i], predicted, Config.Threads);
        ScoresCsv.WriteLabelled(Path.Combine(outDir, "scores.csv"), Rows(scored));
        if (report.Curves != null) CurvesJson.Write(Path.Combine(outDir, "curves.json"), report.Curves);
        Timings.Report += Stopwatch.GetElapsedTime(tReport).TotalSeconds;
        Timings.Total = Stopwatch.GetElapsedTime(tTotal).TotalSeconds;

        var result = new RunResult
        {
            Category = data.Category, Config = Config.CapToBank(model.BankRows, Say), WeightsIdentity = w.Identity, Backend = _backend.Name,
            BackendDescription = _backend.Description, Metrics = evaluation.ToDictionary(), BankSize = model.BankRows,
            FeatureRows = nTrain * model.GridH * model.GridW,
            NTrain = nTrain, NTest = tests.Count, Timings = Timings, Images = scored, OutDir = outDir,
            Synthetic = synthetic, Calibration = cal, Decisions = decisions,
            PerDefectType = report.PerDefectType, ModelPath = modelPath,
        };
        result.WriteJson(Path.Combine(outDir, "results.json"));
        return result;
    }

    /// <summary>
    /// Score unlabelled images with a fitted model; write scores.csv (path,score,normalized_score,label,heatmap),
    /// heat maps, predicted masks and raw maps under paths that mirror <paramref name="relativePaths"/> (default: the
    /// file names). An image that cannot be read does not stop the others: it is left out of every output and
    /// listed in errors.csv (path,error), and in <see cref="PredictResult.Errors"/>.
    /// </summary>
    public PredictResult Predict(PatchCoreModel model, IReadOnlyList<string> images, string outDir, bool heatmaps = true,
        WeightFile? weights = null, IReadOnlyList<string>? relativePaths = null, bool maps = true, bool heatmapFull = false)
    {
        long tTotal = Stopwatch.GetTimestamp();
        if (relativePaths != null && relativePaths.Count != images.Count)
            throw new ArgumentException($"{relativePaths.Count} relative paths for {images.Count} images");
        var (w, net) = LoadBackbone(weights);
        using var _ = net;
        model.CheckCompatible(w.Identity, model.Dim, model.GridH, model.GridW, "model");
        var all = Score(model, net, w, images, keepCrops: heatmaps, label: "scoring", tolerateBadImages: true);
        long tReport = Stopwatch.GetTimestamp();
        Directory.CreateDirectory(outDir);
        AtomicFile.RemoveStale(outDir);

        var keep = new List<int>(images.Count);
        var errors = new List<(string Path, string Error)>();
        for (int i = 0; i < images.Count; i++)
            if (all.Errors?[i] is { } error) errors.Add((images[i], error));
            else keep.Add(i);
        var outputs = Select(all, keep);
        var rel = new string[keep.Count];
        for (int j = 0; j < rel.Length; j++) rel[j] = relativePaths?[keep[j]] ?? Path.GetFileName(images[keep[j]]);
        var stems = OutputNames.UniqueStems(rel);
        var cal = model.Calibration;
        var scored = new List<ScoredImage>(keep.Count);
        for (int j = 0; j < keep.Count; j++)
        {
            float score = outputs.ImageScores[j];
            scored.Add(new ScoredImage(images[keep[j]], stems[j] + Path.GetExtension(rel[j]), "", -1, score)
            {
                Normalized = cal?.Image.Normalize(score), Anomalous = cal?.Image.IsAnomalous(score),
                Heatmap = heatmaps ? "heatmaps/" + stems[j] + ".png" : "",
            });
        }
        var predicted = cal != null && (heatmaps || maps) ? DecisionMapsWriter.Predict(outputs.Maps, cal.Pixel.Threshold) : null;
        if (heatmaps && keep.Count > 0)
            WriteHeatmaps(Path.Combine(outDir, "heatmaps"), outputs, null, predicted, cal, scored, j => stems[j] + ".png",
                heatmapFull ? j => images[keep[j]] : null);
        if (maps && keep.Count > 0)
            DecisionMapsWriter.WriteAll(outDir, outputs.Maps, outputs.MapH, outputs.MapW, keep.Count, j => stems[j], predicted, Config.Threads);
        ScoresCsv.WritePredict(Path.Combine(outDir, "scores.csv"), Rows(scored, byInputPath: true));
        string errorsCsv = Path.Combine(outDir, "errors.csv");
        if (errors.Count > 0) ScoresCsv.WriteErrors(errorsCsv, errors);
        else if (File.Exists(errorsCsv)) File.Delete(errorsCsv); // not left from an earlier call into the same folder
        Timings.Report += Stopwatch.GetElapsedTime(tReport).TotalSeconds;
        Timings.Total = Stopwatch.GetElapsedTime(tTotal).TotalSeconds;
        return new PredictResult(scored, errors);
    }

    /// <summary>The outputs of the images at <paramref name="keep"/> (all of them: the same object).</summary>
    static TestOutputs Select(TestOutputs o, List<int> keep)
    {
        int n = o.ImageScores.Length;
        if (keep.Count == n) return o;
        int per = n == 0 ? 0 : o.PatchScores.Length / n, plane = o.MapH * o.MapW;
        var image = new float[keep.Count];
        var patch = new float[(long)keep.Count * per];
        var maps = new float[(long)keep.Count * plane];
        var crops = o.Crops != null ? new RgbImage[keep.Count] : null;
        for (int j = 0; j < keep.Count; j++)
        {
            int i = keep[j];
            image[j] = o.ImageScores[i];
            Array.Copy(o.PatchScores, (long)i * per, patch, (long)j * per, per);
            Array.Copy(o.Maps, (long)i * plane, maps, (long)j * plane, plane);
            if (crops != null) crops[j] = o.Crops![i];
        }
        return new TestOutputs(image, patch, maps, o.MapH, o.MapW, crops);
    }

    void WriteHeatmaps(string dir, TestOutputs o, bool[]? masks, bool[]? predicted, Calibration? calibration, List<ScoredImage> scored,
        Func<int, string> name, Func<int, string>? sourcePath)
    {
        using var bar = Bar("heat maps", o.ImageScores.Length);
        var set = new HeatmapSet(o.Crops!, o.Maps, o.MapH, o.MapW)
        {
            Truth = masks,
            Predicted = predicted,
            PixelScale = calibration?.Pixel,
            RelativePath = name,
            Caption = i => new HeatmapCaption(scored[i].Name, scored[i].Score, scored[i].Normalized, scored[i].Anomalous),
            SourcePath = sourcePath,
            Resize = sourcePath != null ? Config.ResizeSpec : null,
        };
        HeatmapWriter.WriteAll(dir, set, Config.Threads, bar);
    }

    /// <param name="byInputPath">predict: the path column is the input file as given (its outputs are named by the
    /// heatmap column); run: the path relative to the category.</param>
    static List<ScoreRow> Rows(List<ScoredImage> images, bool byInputPath = false)
    {
        var rows = new List<ScoreRow>(images.Count);
        foreach (var s in images)
            rows.Add(new ScoreRow(byInputPath ? s.Path : s.Name, s.Score, s.Normalized, s.Anomalous)
            {
                DefectType = s.DefectType, Truth = s.Label >= 0 ? s.Label : null, Heatmap = s.Heatmap,
            });
        return rows;
    }
}
