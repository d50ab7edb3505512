using PatchCore.Tensors;

namespace PatchCore.Scoring;

/// <summary>
/// One decision threshold and the scale that normalises scores around it.
/// Normalised score = 0.5 + 0.5 · (s − Threshold) / (Threshold − NominalMin), clipped to [0, 1]: the lowest
/// nominal score maps to 0, the threshold to 0.5 (as anomalib's normalisation puts its threshold), and a score as
/// far above the threshold as the nominal floor is below it maps to 1. A score is anomalous when s ≥ Threshold.
/// </summary>
/// <param name="Threshold">Raw score at which a sample is called anomalous.</param>
/// <param name="NominalMin">Lowest calibration score of nominal samples (the bottom of the scale).</param>
/// <param name="Method">How the threshold was chosen, in words (recorded in the model and results.json).</param>
public sealed record ScoreThreshold(double Threshold, double NominalMin, string Method)
{
    /// <summary>Raw score → [0, 1], the threshold at 0.5.</summary>
    public double Normalize(double score)
    {
        double span = Threshold - NominalMin;
        if (!(span > 0)) return score >= Threshold ? 1 : 0; // degenerate calibration: a step at the threshold
        return Math.Clamp(0.5 + 0.5 * (score - Threshold) / span, 0, 1);
    }

    public bool IsAnomalous(double score) => score >= Threshold;
}

/// <summary>
/// Calibration of a fitted model from nominal samples scored as the bank had not seen them: an image threshold and
/// a pixel threshold, each the split-conformal (1 − α) quantile of the nominal scores, α = the wanted false-alarm
/// rate (Vovk et al. 2005; Angelopoulos &amp; Bates 2021, "A Gentle Introduction to Conformal Prediction", §1).
///
/// With n nominal scores sorted ascending, the threshold is the k-th, k = ⌈(n + 1)(1 − α)⌉ (at most n). For a new
/// nominal sample exchangeable with the calibration samples, P(score ≥ threshold) ≤ 1 − k/(n + 1) (continuous
/// scores): that bound is the false-alarm rate the threshold PROMISES (<see cref="PromisedFalseAlarmRate"/>). It
/// is α or just below it when n ≥ 1/α − 1 (99 images for α = 0.01); with fewer images k = n, the threshold is the
/// highest nominal score and the promise is only 1/(n + 1). The promise is about images drawn like the calibration
/// images: a line whose nominal images drift (another light, another batch) breaks it, which
/// <c>docs/FINDINGS.md</c> measures on MVTec AD's test sets.
/// </summary>
public sealed record Calibration
{
    public required ScoreThreshold Image { get; init; }
    public required ScoreThreshold Pixel { get; init; }
    /// <summary>The false-alarm rate asked for (fraction of nominal images / pixels called anomalous).</summary>
    public required double FalseAlarmRate { get; init; }
    /// <summary>How many nominal images the thresholds come from.</summary>
    public required int NominalImages { get; init; }
    /// <summary>Where those images came from (held-out share of train/good, a folder, leave-one-out …).</summary>
    public required string Source { get; init; }
    /// <summary>F1-optimal thresholds on labelled test data, when a run had them (not used for decisions unless chosen).</summary>
    public ScoreThreshold? ImageF1 { get; init; }
    public ScoreThreshold? PixelF1 { get; init; }

    /// <summary>The false-alarm rate the image threshold promises for images exchangeable with the calibration
    /// images: 1 − k/(n + 1) (see the type's summary).</summary>
    public double PromisedFalseAlarmRate => Promise(NominalImages, FalseAlarmRate);

    /// <summary>Thresholds at false-alarm rate <paramref name="falseAlarmRate"/> from nominal image scores and the
    /// pixels of their anomaly maps.</summary>
    public static Calibration FromNominal(ReadOnlySpan<float> imageScores, ReadOnlySpan<float> pixelScores,
        double falseAlarmRate, string source)
    {
        if (imageScores.Length == 0) throw new ArgumentException("calibration needs at least one nominal image");
        if (pixelScores.Length == 0) throw new ArgumentException("calibration needs the nominal anomaly maps");
        if (!(falseAlarmRate >= 0 && falseAlarmRate < 1)) throw new ArgumentException($"false-alarm rate {falseAlarmRate} must be in [0, 1)");
        string method = $"conformal {(1 - falseAlarmRate) * 100:G4}% quantile of {{0}} nominal scores (false-alarm rate {falseAlarmRate:G4}; promises {{1:G3}})";
        return new Calibration
        {
            Image = new ScoreThreshold(ConformalQuantile(imageScores, falseAlarmRate), Min(imageScores),
                string.Format(System.Globalization.CultureInfo.InvariantCulture, method, imageScores.Length, Promise(imageScores.Length, falseAlarmRate))),
            Pixel = new ScoreThreshold(ConformalQuantile(pixelScores, falseAlarmRate), Min(pixelScores),
                string.Format(System.Globalization.CultureInfo.InvariantCulture, method, pixelScores.Length, Promise(pixelScores.Length, falseAlarmRate))),
            FalseAlarmRate = falseAlarmRate,
            NominalImages = imageScores.Length,
            Source = source,
        };
    }

    /// <summary>k = ⌈(n + 1)(1 − α)⌉, at most n: the rank (1-based, ascending) of the conformal threshold. The small
    /// tolerance keeps an exact product such as 100 · 0.99 from rounding up to the next rank.</summary>
    public static long ConformalRank(long n, double alpha)
    {
        if (n < 1) throw new ArgumentException("a quantile of no values");
        double k = Math.Ceiling((n + 1) * (1 - alpha) - 1e-12 * (n + 1));
        return Math.Clamp((long)k, 1, n);
    }

    /// <summary>1 − k/(n + 1): the false-alarm rate the k-th of n nominal scores promises.</summary>
    public static double Promise(long n, double alpha) => 1 - (double)ConformalRank(n, alpha) / (n + 1);

    /// <summary>The k-th smallest of <paramref name="values"/>, k = <see cref="ConformalRank"/> (a linear-time
    /// radix sort: the pixel threshold looks at every pixel of the calibration maps).</summary>
    public static double ConformalQuantile(ReadOnlySpan<float> values, double alpha)
    {
        foreach (float v in values) if (float.IsNaN(v)) throw new ArgumentException("a calibration score is NaN");
        var sorted = RadixSort.SortedKeys(values);
        return RadixSort.FromOrdered(sorted[ConformalRank(sorted.Length, alpha) - 1]);
    }

    static double Min(ReadOnlySpan<float> values)
    {
        float m = float.PositiveInfinity;
        foreach (float v in values) if (v < m) m = v;
        return m;
    }
}
