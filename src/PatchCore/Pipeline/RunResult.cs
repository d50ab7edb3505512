using System.Text.Json;
using System.Text.Json.Nodes;
using PatchCore.IO;
using PatchCore.Metrics;
using PatchCore.Scoring;

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
    /// <summary>The model's thresholds (null: uncalibrated, no "calibration" block).</summary>
    public Calibration? Calibration { get; init; }
    /// <summary>Decisions at the calibrated image threshold on the labelled test set (null without either).</summary>
    public DecisionCounts? Decisions { get; init; }
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
            {
                var t = new JsonObject { ["image_auroc"] = Math.Round(a.ImageAuroc, 6), ["n"] = a.N };
                if (a.PixelAuroc is double pa) t["pixel_auroc"] = Math.Round(pa, 6);
                if (a.Aupro is double ap) t["aupro"] = Math.Round(ap, 6);
                types[type] = t;
            }
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
        if (Calibration != null) json["calibration"] = CalibrationJson(Calibration);
        if (Decisions != null) json["decisions"] = DecisionsJson(Decisions);
        if (ModelPath != null) json["model"] = ModelPath;
        return json;
    }

    /// <summary>results.json's "calibration" block: thresholds, normalisation floors, how and from what.</summary>
    public static JsonObject CalibrationJson(Calibration c)
    {
        static JsonObject T(ScoreThreshold t) => new()
        {
            ["threshold"] = t.Threshold, ["normalization_floor"] = t.NominalMin, ["method"] = t.Method,
        };
        var o = new JsonObject
        {
            ["source"] = c.Source, ["n_images"] = c.NominalImages, ["false_alarm_rate"] = c.FalseAlarmRate,
            ["promised_false_alarm_rate"] = Math.Round(c.PromisedFalseAlarmRate, 6),
            ["image"] = T(c.Image), ["pixel"] = T(c.Pixel),
        };
        if (c.ImageF1 != null) o["image_f1"] = T(c.ImageF1);
        if (c.PixelF1 != null) o["pixel_f1"] = T(c.PixelF1);
        return o;
    }

    /// <summary>results.json's "decisions" block: what the calibrated image threshold does on the labelled test set.</summary>
    public static JsonObject DecisionsJson(DecisionCounts d) => new()
    {
        ["threshold"] = d.Threshold,
        ["false_alarm_rate"] = d.FalseAlarmRate is double f ? Math.Round(f, 6) : null,
        ["miss_rate"] = d.MissRate is double m ? Math.Round(m, 6) : null,
        ["accuracy"] = Math.Round(d.Accuracy, 6),
        ["counts"] = new JsonObject
        {
            ["good"] = d.Good, ["anomalous"] = d.Anomalous, ["true_positives"] = d.TruePositives,
            ["false_positives"] = d.FalsePositives, ["true_negatives"] = d.TrueNegatives, ["false_negatives"] = d.FalseNegatives,
        },
    };

    /// <summary>Write results.json (indented, trailing newline), atomically.</summary>
    public void WriteJson(string path) =>
        AtomicFile.WriteAllText(path, ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
}
