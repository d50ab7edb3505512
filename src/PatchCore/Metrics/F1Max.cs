namespace PatchCore.Metrics;

/// <summary>
/// Best F1 over thresholds (anomalib's F1Max): every distinct score is a candidate threshold, a sample is
/// predicted anomalous when score ≥ threshold. Returns the best F1 and the lowest threshold reaching it (anomalib
/// takes the first argmax over ascending precision-recall thresholds).
/// </summary>
public static class F1Max
{
    public static (double F1, float Threshold) Compute(ReadOnlySpan<float> scores, ReadOnlySpan<bool> labels)
    {
        var steps = DescendingScoreWalk.Steps(scores, labels, out int positives);
        if (positives == 0) throw new ArgumentException("F1 needs at least one positive sample");
        double best = -1;
        float bestThreshold = float.PositiveInfinity;
        foreach (var step in steps)
        {
            double precision = (double)step.TruePositives / (step.TruePositives + step.FalsePositives);
            double recall = (double)step.TruePositives / positives;
            double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
            if (f1 >= best) { best = f1; bestThreshold = step.Threshold; }
        }
        return (best, bestThreshold);
    }
}
