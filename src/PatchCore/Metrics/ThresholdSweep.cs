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
        if (scores.Length != labels.Length) throw new ArgumentException($"{scores.Length} scores but {labels.Length} labels");
        int n = scores.Length, positives = 0;
        foreach (bool l in labels) if (l) positives++;
        int negatives = n - positives;
        if (positives == 0 || negatives == 0) throw new ArgumentException("curves need both positive and negative samples");
        var s = scores.ToArray();
        var lab = labels.ToArray();
        foreach (float v in s) if (float.IsNaN(v)) throw new ArgumentException("a score is NaN");
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Array.Sort(order, (a, b) => s[b].CompareTo(s[a]));

        var fpr = new List<double> { 0 }; var tpr = new List<double> { 0 };
        var recall = new List<double> { 0 }; var precision = new List<double> { 1 };
        var th = new List<float> { Curve.Above(s[order[0]]) };
        int tp = 0, fp = 0;
        for (int i = 0; i < n;)
        {
            float v = s[order[i]];
            while (i < n && s[order[i]] == v) { if (lab[order[i]]) tp++; else fp++; i++; }
            fpr.Add((double)fp / negatives); tpr.Add((double)tp / positives);
            recall.Add((double)tp / positives); precision.Add((double)tp / (tp + fp));
            th.Add(v);
        }
        var t = th.ToArray();
        return (new RocCurve(fpr.ToArray(), tpr.ToArray(), t), new PrCurve(recall.ToArray(), precision.ToArray(), t));
    }
}
