namespace PatchCore.Metrics;

/// <summary>
/// ROC and precision–recall points of a few thousand scores (image scores) from one descending sort: lowering the
/// threshold through each distinct score adds that score's samples. The AUROC number stays <see cref="Auroc"/>'s
/// averaged ranks (the ROC's trapezoid area equals it up to rounding); these are the points for plots.
/// </summary>
public static class ThresholdSweep
{
    public static (RocCurve Roc, PrCurve Pr) Compute(ReadOnlySpan<float> scores, ReadOnlySpan<bool> labels)
    {
        var steps = DescendingScoreWalk.Steps(scores, labels, out int positives);
        int negatives = scores.Length - positives;
        if (positives == 0 || negatives == 0) throw new ArgumentException("curves need both positive and negative samples");
        var fpr = new List<double> { 0 }; var tpr = new List<double> { 0 };
        var recall = new List<double> { 0 }; var precision = new List<double> { 1 };
        var th = new List<float> { Curve.Above(steps[0].Threshold) };
        foreach (var (v, tp, fp) in steps)
        {
            fpr.Add((double)fp / negatives); tpr.Add((double)tp / positives);
            recall.Add((double)tp / positives); precision.Add((double)tp / (tp + fp));
            th.Add(v);
        }
        var t = th.ToArray();
        return (new RocCurve(fpr.ToArray(), tpr.ToArray(), t), new PrCurve(recall.ToArray(), precision.ToArray(), t));
    }
}
