using System.Diagnostics;
using PatchCore.Data;
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
        bool heatmaps = true, bool synthetic = false, string? modelPath = null, bool maps = true, bool heatmapFull = false)
    {
        if (ResultKey(Config) != ResultKey(model.Config))
            throw new ArgumentException("evaluate: the runner's config differs from the model's (only threads and batch size may)");
        long tTotal = Stopwatch.GetTimestamp();
        var (w, net) = LoadBackbone(weights);
        using var _ = net;
        model.CheckCompatible(w.Identity, model.Dim, model.GridH, model.GridW);
        return TestAndReport(model, net, w, data, outDir, heatmaps, maps, heatmapFull, tTotal, model.TrainImages,
            synthetic, modelPath);
    }

    /// <summary>The config without what does not change results (threads, batch size) nor the weights' path
    /// (a moved model finds its weights elsewhere; their identity is checked by hash).</summary>
    static string ResultKey(PatchCoreConfig c) => (c with { Threads = 0, BatchSize = 1, Weights = "" }).ToJson();
}
