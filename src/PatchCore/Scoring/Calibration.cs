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
/// Calibration of a fitted model from nominal samples the memory bank did not see: an image threshold and a pixel
/// threshold, each the empirical (1 − α) quantile of nominal scores, α = the wanted false-alarm rate.
///
/// The quantile is the "higher" one (numpy's method="higher"): the smallest nominal score t with at most
/// ⌊α·n⌋ nominal scores above it. So on the calibration samples themselves at most α of them are called anomalous,
/// and with n images the resolution of α is 1/n: for α below 1/n the threshold is the highest nominal score
/// (a stated limit, recorded as <see cref="NominalImages"/>).
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

    /// <summary>Thresholds at false-alarm rate <paramref name="falseAlarmRate"/> from nominal image scores and the
    /// pixels of their anomaly maps.</summary>
    public static Calibration FromNominal(ReadOnlySpan<float> imageScores, ReadOnlySpan<float> pixelScores,
        double falseAlarmRate, string source)
    {
        if (imageScores.Length == 0) throw new ArgumentException("calibration needs at least one nominal image");
        if (pixelScores.Length == 0) throw new ArgumentException("calibration needs the nominal anomaly maps");
        if (!(falseAlarmRate >= 0 && falseAlarmRate < 1)) throw new ArgumentException($"false-alarm rate {falseAlarmRate} must be in [0, 1)");
        string method = $"nominal {(1 - falseAlarmRate) * 100:G4}% quantile (false-alarm rate {falseAlarmRate:G4})";
        return new Calibration
        {
            Image = new ScoreThreshold(HigherQuantile(imageScores, falseAlarmRate), Min(imageScores), method),
            Pixel = new ScoreThreshold(HigherQuantile(pixelScores, falseAlarmRate), Min(pixelScores), method),
            FalseAlarmRate = falseAlarmRate,
            NominalImages = imageScores.Length,
            Source = source,
        };
    }

    /// <summary>The smallest value t of <paramref name="values"/> with at most ⌊α·n⌋ values above it.</summary>
    public static double HigherQuantile(ReadOnlySpan<float> values, double alpha)
    {
        var sorted = values.ToArray();
        foreach (float v in sorted) if (float.IsNaN(v)) throw new ArgumentException("a calibration score is NaN");
        Array.Sort(sorted);
        int above = (int)Math.Floor(alpha * sorted.Length);
        return sorted[sorted.Length - 1 - Math.Min(above, sorted.Length - 1)];
    }

    static double Min(ReadOnlySpan<float> values)
    {
        float m = float.PositiveInfinity;
        foreach (float v in values) if (v < m) m = v;
        return m;
    }
}
