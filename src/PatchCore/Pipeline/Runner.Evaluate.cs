using System.Diagnostics;
using PatchCore.Data;
using PatchCore.IO;
using PatchCore.Metrics;
using PatchCore.Weights;

namespace PatchCore.Pipeline;

public sealed partial class Runner
{
    /// <summary>
    /// Re-test a fitted model on a labelled category (test/ and ground_truth/), without fitting: the same scoring,
    /// metrics and files as <see cref="Run"/> after its fit (results.json, scores.csv, heat maps), plus the image
    /// AUROC of each defect type. The runner's config must be the model's (threads and batch size may differ):
    /// the test images are prepared as the bank's images were.
    /// </summary>
    /// <param name="weights">the backbone weights (<see cref="PatchCoreModel.BackboneWeights"/>).</param>
    /// <param name="modelPath">the model file, recorded in results.json.</param>
    public RunResult Evaluate(PatchCoreModel model, MvtecDataset data, string outDir, WeightFile weights,
        bool heatmaps = true, bool synthetic = false, string? modelPath = null)
    {
        if (ResultKey(Config) != ResultKey(model.Config))
            throw new ArgumentException("evaluate: the runner's config differs from the model's (only threads and batch size may)");
        long tTotal = Stopwatch.GetTimestamp();
        var (w, net) = LoadBackbone(weights);
        using var _ = net;
        model.CheckCompatible(w.Identity, model.Dim, model.GridH, model.GridW);
        var samples = data.TestSamples;
        var tests = new List<string>(samples.Count);
        foreach (var t in samples) tests.Add(t.Path);
        var outputs = Score(model, net, w, tests, keepCrops: heatmaps);

        long tMetrics = Stopwatch.GetTimestamp();
        bool[]? masks = data.HasMasks ? Evaluation.LoadMasks(samples, Config.ResizeSpec, Config.Threads) : null;
        var labels = new bool[samples.Count];
        for (int i = 0; i < labels.Length; i++) labels[i] = samples[i].IsAnomalous;
        var evaluation = Evaluation.Compute(outputs.ImageScores, labels, outputs.Maps, masks, outputs.MapH, outputs.MapW);
        if (evaluation.ImageAuroc == null) Say("metrics: the test set has only one class; image AUROC is not computable");
        var perType = DefectTypeAurocs(samples, outputs.ImageScores);
        Timings.Metrics += Stopwatch.GetElapsedTime(tMetrics).TotalSeconds;

        long tReport = Stopwatch.GetTimestamp();
        Directory.CreateDirectory(outDir);
        AtomicFile.RemoveStale(outDir);
        var scored = new List<ScoredImage>(samples.Count);
        for (int i = 0; i < samples.Count; i++)
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
            Category = data.Category, Config = Config, WeightsIdentity = w.Identity, Backend = _backend.Name,
            BackendDescription = _backend.Description, Metrics = evaluation.ToDictionary(), BankSize = model.BankRows,
            FeatureRows = model.TrainImages * model.GridH * model.GridW,
            NTrain = model.TrainImages, NTest = samples.Count, Timings = Timings, Images = scored, OutDir = outDir,
            Synthetic = synthetic, PerDefectType = perType, ModelPath = modelPath,
        };
        result.WriteJson(Path.Combine(outDir, "results.json"));
        return result;
    }

    /// <summary>Image AUROC of each defect type of a test set against its good images (<see cref="PerDefectType"/>).</summary>
    static SortedDictionary<string, DefectTypeAuroc> DefectTypeAurocs(IReadOnlyList<TestSample> samples, float[] scores)
    {
        var types = new string[samples.Count];
        for (int i = 0; i < types.Length; i++) types[i] = samples[i].DefectType;
        return PerDefectType.Compute(scores, types);
    }

    /// <summary>The config without what does not change results (threads, batch size) nor the weights' path
    /// (a moved model finds its weights elsewhere; their identity is checked by hash).</summary>
    static string ResultKey(PatchCoreConfig c) => (c with { Threads = 0, BatchSize = 1, Weights = "" }).ToJson();
}
