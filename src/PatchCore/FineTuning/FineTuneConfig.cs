using System.Text.Json;
using System.Text.Json.Serialization;

namespace PatchCore.FineTuning;

/// <summary>
/// Every hyperparameter of a fine-tuning run (issue 13). JSON names are the flag names of `pcnative finetune`
/// (a --config file uses them; flags override it). Recorded in the written weights and in every checkpoint.
/// </summary>
public sealed record FineTuneConfig
{
    [JsonPropertyName("task")] public string Task { get; init; } = "rotation";
    [JsonPropertyName("epochs")] public int Epochs { get; init; } = 5;
    /// <summary>Comma-separated contiguous stages: "layer3" or "layer2,layer3"; earlier stages frozen (inference mode).</summary>
    [JsonPropertyName("train-stages")] public string TrainStages { get; init; } = "layer3";
    [JsonPropertyName("learning-rate")] public double LearningRate { get; init; } = 0.01;
    [JsonPropertyName("min-learning-rate")] public double MinLearningRate { get; init; } = 0;
    /// <summary>sgd | adamw.</summary>
    [JsonPropertyName("optimizer")] public string Optimizer { get; init; } = "sgd";
    [JsonPropertyName("momentum")] public double Momentum { get; init; } = 0.9;
    [JsonPropertyName("weight-decay")] public double WeightDecay { get; init; } = 1e-4;
    /// <summary>Linear warm-up length in epochs (fractions allowed), then cosine decay to min-learning-rate.</summary>
    [JsonPropertyName("warmup-epochs")] public double WarmupEpochs { get; init; } = 0.5;
    /// <summary>frozen | train.</summary>
    [JsonPropertyName("batchnorm")] public string BatchNorm { get; init; } = "frozen";
    /// <summary>λ of the mean squared distance between fine-tuned and frozen features of the trained stages among
    /// layer2/layer3 (0 = off).</summary>
    [JsonPropertyName("feature-penalty")] public double FeaturePenalty { get; init; }
    /// <summary>λ of L2-SP: λ/2·‖w − w_pretrained‖² over the trained backbone weights (0 = off).</summary>
    [JsonPropertyName("l2sp")] public double L2sp { get; init; }
    /// <summary>Source images per step (the rotation task makes 4 rows of each).</summary>
    [JsonPropertyName("batch")] public int Batch { get; init; } = 8;
    /// <summary>Share of train/good held out for the per-epoch accuracy.</summary>
    [JsonPropertyName("holdout")] public double Holdout { get; init; } = 0.1;
    [JsonPropertyName("seed")] public int Seed { get; init; }
    [JsonPropertyName("resize")] public int Resize { get; init; } = 256;
    [JsonPropertyName("crop")] public int Crop { get; init; } = 224;
    /// <summary>Use at most this many train/good images (0 = all): short runs and tests.</summary>
    [JsonPropertyName("max-images")] public int MaxImages { get; init; }

    // ---- contrastive task (SimCLR NT-Xent + CutMix negatives; see ContrastiveOptions for the defaults' reasons) ----
    [JsonPropertyName("temperature")] public double Temperature { get; init; } = 0.5;
    [JsonPropertyName("head-hidden")] public int ProjectionHidden { get; init; } = 512;
    [JsonPropertyName("head-dim")] public int ProjectionDim { get; init; } = 128;
    /// <summary>Normalisation after the head's first linear layer: "batch" (SimCLR's BatchNorm1d) or "none".</summary>
    [JsonPropertyName("head-norm")] public string ProjectionNorm { get; init; } = "batch";
    /// <summary>CutMix images per training batch, extra negatives for every anchor (0 = plain SimCLR).</summary>
    [JsonPropertyName("cutmix-negatives")] public int CutMixNegatives { get; init; } = 4;
    [JsonPropertyName("cutmix-area-min")] public double CutMixAreaMin { get; init; } = 0.02;
    [JsonPropertyName("cutmix-area-max")] public double CutMixAreaMax { get; init; } = 0.15;
    [JsonPropertyName("crop-scale-min")] public double CropScaleMin { get; init; } = 0.08;
    [JsonPropertyName("crop-scale-max")] public double CropScaleMax { get; init; } = 1.0;
    [JsonPropertyName("crop-ratio-min")] public double CropRatioMin { get; init; } = 3.0 / 4;
    [JsonPropertyName("crop-ratio-max")] public double CropRatioMax { get; init; } = 4.0 / 3;
    [JsonPropertyName("flip")] public double FlipProbability { get; init; } = 0.5;
    [JsonPropertyName("brightness")] public double Brightness { get; init; } = 0.4;
    [JsonPropertyName("contrast")] public double Contrast { get; init; } = 0.4;
    [JsonPropertyName("saturation")] public double Saturation { get; init; } = 0.4;
    [JsonPropertyName("jitter-probability")] public double JitterProbability { get; init; } = 0.8;

    /// <summary>The contrastive task's settings from the keys above.</summary>
    public ContrastiveOptions Contrastive() => new()
    {
        Temperature = Temperature, ProjectionHidden = ProjectionHidden, ProjectionDim = ProjectionDim,
        ProjectionNorm = ProjectionNorm, CutMixNegatives = CutMixNegatives, CutMixAreaMin = CutMixAreaMin, CutMixAreaMax = CutMixAreaMax,
        CropScaleMin = CropScaleMin, CropScaleMax = CropScaleMax, CropRatioMin = CropRatioMin, CropRatioMax = CropRatioMax,
        FlipProbability = FlipProbability, Brightness = Brightness, Contrast = Contrast, Saturation = Saturation,
        JitterProbability = JitterProbability,
    };

    static readonly JsonSerializerOptions Json = new() { WriteIndented = false };
    public string ToJson() => JsonSerializer.Serialize(this, Json);
    public static FineTuneConfig FromJson(string json, string file)
    {
        try { return JsonSerializer.Deserialize<FineTuneConfig>(json, new JsonSerializerOptions { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow }) ?? new(); }
        catch (JsonException e) { throw new InvalidDataException($"{file}: {e.Message}"); }
    }

    /// <summary>Checks every value; the message names the flag.</summary>
    public void Validate()
    {
        void Need(bool ok, string flag, object value, string rule) { if (!ok) throw new ArgumentException($"--{flag} {value}: {rule}"); }
        Need(Task is "rotation" or "contrastive", "task", Task, "rotation or contrastive");
        Need(Epochs is >= 1 and <= 10000, "epochs", Epochs, "must be 1..10000");
        Need(LearningRate >= 0 && double.IsFinite(LearningRate), "learning-rate", LearningRate, "must be a finite number >= 0");
        Need(MinLearningRate >= 0 && MinLearningRate <= LearningRate, "min-learning-rate", MinLearningRate, "must be in 0..learning-rate");
        Need(Optimizer is "sgd" or "adamw", "optimizer", Optimizer, "sgd or adamw");
        Need(Momentum is >= 0 and < 1, "momentum", Momentum, "must be in [0, 1)");
        Need(WeightDecay >= 0 && double.IsFinite(WeightDecay), "weight-decay", WeightDecay, "must be >= 0");
        Need(WarmupEpochs >= 0 && WarmupEpochs <= Epochs, "warmup-epochs", WarmupEpochs, "must be in 0..epochs");
        Need(BatchNorm is "frozen" or "train", "batchnorm", BatchNorm, "frozen or train");
        Need(FeaturePenalty >= 0 && double.IsFinite(FeaturePenalty), "feature-penalty", FeaturePenalty, "must be >= 0");
        Need(L2sp >= 0 && double.IsFinite(L2sp), "l2sp", L2sp, "must be >= 0");
        Need(Batch is >= 1 and <= 4096, "batch", Batch, "must be 1..4096");
        Need(Holdout is >= 0 and < 1, "holdout", Holdout, "must be in [0, 1)");
        Need(Crop >= 32 && Resize >= Crop, "crop", Crop, $"need 32 <= crop <= resize ({Resize})");
        Need(MaxImages >= 0, "max-images", MaxImages, "must be >= 0");
        Contrastive().Validate();
    }
}
