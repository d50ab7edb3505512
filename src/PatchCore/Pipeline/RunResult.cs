using System.Text.Json;
using System.Text.Json.Nodes;
using PatchCore.IO;
using PatchCore.Metrics;

namespace PatchCore.Pipeline;

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
    /// <summary>Image AUROC of each defect type against the good images (metrics.per_defect_type); null = not computed.</summary>
    public IReadOnlyDictionary<string, DefectTypeAuroc>? PerDefectType { get; init; }
    /// <summary>The model file an evaluation re-tested (written as "model"); null for a run that fitted its own.</summary>
    public string? ModelPath { get; init; }

    public JsonObject ToJson()
    {
        var metrics = new JsonObject();
        foreach (var (k, v) in Metrics) metrics[k] = Math.Round(v, 6);
        if (PerDefectType is { Count: > 0 })
        {
            var types = new JsonObject();
            foreach (var (type, a) in PerDefectType)
                types[type] = new JsonObject { ["image_auroc"] = Math.Round(a.ImageAuroc, 6), ["n"] = a.N };
            metrics["per_defect_type"] = types;
        }
        var config = JsonSerializer.SerializeToNode(Config, PatchCoreConfig.Json)!.AsObject();
        config["weights_sha256"] = WeightsIdentity;
        var json = new JsonObject
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
        if (ModelPath != null) json["model"] = ModelPath;
        return json;
    }

    /// <summary>Write results.json (indented, trailing newline), atomically.</summary>
    public void WriteJson(string path) =>
        AtomicFile.WriteAllText(path, ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
}
