namespace PatchCore.FineTuning;

/// <summary>
/// Hyperparameters of the contrastive task (SimCLR NT-Xent with CutMix negatives). Defaults follow SimCLR where it
/// has one (crop scale 0.08–1, ratio 3/4–4/3, flip 0.5, τ 0.5 as its CIFAR setting) with a milder colour jitter
/// (0.4/0.4/0.4, no hue): industrial images are judged partly by colour, and the features should not learn to
/// ignore it entirely.
/// </summary>
public sealed record ContrastiveOptions
{
    public double Temperature { get; init; } = 0.5;
    /// <summary>Hidden width of the projection head.</summary>
    public int ProjectionHidden { get; init; } = 512;
    /// <summary>Output width of the projection head (the space NT-Xent compares in).</summary>
    public int ProjectionDim { get; init; } = 128;
    /// <summary>
    /// "batch": the head is linear (no bias) – BatchNorm1d – ReLU – linear, SimCLR's head; "none": linear – ReLU –
    /// linear. The BN-free head collapsed on transistor with AdamW at lr 1e-3: one constant embedding for every image
    /// (held-out NT-Xent exactly at its constant-embedding value, 0% positives first, 3 seeds; docs/FINDINGS.md), after
    /// which no gradient moves anything — as when every hidden ReLU is off. Batch statistics centre each hidden unit
    /// over the batch, so about half of them are on for any batch and the embedding cannot be constant.
    /// </summary>
    public string ProjectionNorm { get; init; } = "batch";
    /// <summary>CutMix images added to each training batch as extra negatives (0 = plain SimCLR).</summary>
    public int CutMixNegatives { get; init; } = 4;
    public double CutMixAreaMin { get; init; } = 0.02;
    public double CutMixAreaMax { get; init; } = 0.15;
    public double CropScaleMin { get; init; } = 0.08;
    public double CropScaleMax { get; init; } = 1.0;
    public double CropRatioMin { get; init; } = 3.0 / 4;
    public double CropRatioMax { get; init; } = 4.0 / 3;
    public double FlipProbability { get; init; } = 0.5;
    public double Brightness { get; init; } = 0.4;
    public double Contrast { get; init; } = 0.4;
    public double Saturation { get; init; } = 0.4;
    /// <summary>Probability that a view is colour-jittered at all (SimCLR: 0.8).</summary>
    public double JitterProbability { get; init; } = 0.8;

    /// <summary>Checks every value; the message names the flag (as `pcnative finetune` spells it).</summary>
    public void Validate()
    {
        static void Need(bool ok, string flag, object value, string rule) { if (!ok) throw new ArgumentException($"--{flag} {value}: {rule}"); }
        static bool Share(double v) => v is >= 0 and <= 1;
        Need(Temperature > 0 && double.IsFinite(Temperature), "temperature", Temperature, "must be a finite number > 0");
        Need(ProjectionHidden is >= 1 and <= 65536, "head-hidden", ProjectionHidden, "must be 1..65536");
        Need(ProjectionDim is >= 1 and <= 65536, "head-dim", ProjectionDim, "must be 1..65536");
        Need(ProjectionNorm is "batch" or "none", "head-norm", ProjectionNorm, "must be batch or none");
        Need(CutMixNegatives is >= 0 and <= 4096, "cutmix-negatives", CutMixNegatives, "must be 0..4096");
        Need(Share(CutMixAreaMin), "cutmix-area-min", CutMixAreaMin, "must be in [0, 1]");
        Need(Share(CutMixAreaMax) && CutMixAreaMax >= CutMixAreaMin, "cutmix-area-max", CutMixAreaMax, "must be in [cutmix-area-min, 1]");
        Need(CropScaleMin is > 0 and <= 1, "crop-scale-min", CropScaleMin, "must be in (0, 1]");
        Need(CropScaleMax <= 1 && CropScaleMax >= CropScaleMin, "crop-scale-max", CropScaleMax, "must be in [crop-scale-min, 1]");
        Need(CropRatioMin > 0 && double.IsFinite(CropRatioMin), "crop-ratio-min", CropRatioMin, "must be a finite number > 0");
        Need(CropRatioMax >= CropRatioMin && double.IsFinite(CropRatioMax), "crop-ratio-max", CropRatioMax, "must be finite and >= crop-ratio-min");
        Need(Share(FlipProbability), "flip", FlipProbability, "must be in [0, 1]");
        Need(Brightness >= 0 && double.IsFinite(Brightness), "brightness", Brightness, "must be a finite number >= 0");
        Need(Contrast >= 0 && double.IsFinite(Contrast), "contrast", Contrast, "must be a finite number >= 0");
        Need(Saturation >= 0 && double.IsFinite(Saturation), "saturation", Saturation, "must be a finite number >= 0");
        Need(Share(JitterProbability), "jitter-probability", JitterProbability, "must be in [0, 1]");
    }
}
