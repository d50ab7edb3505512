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
        if (scores.Length != labels.Length) throw new ArgumentException($"{scores.Length} scores but {labels.Length} labels");
        int n = scores.Length, positives = 0;
        foreach (bool l in labels) if (l) positives++;
        if (positives == 0) throw new ArgumentException("F1 needs at least one positive sample");
        var s = scores.ToArray();
        var lab = labels.ToArray();
        foreach (float v in s) if (float.IsNaN(v)) throw new ArgumentException("a score is NaN");
        // Descending scores: lowering the threshold through each distinct value adds that value's samples.
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Array.Sort(order, (a, b) => s[b].CompareTo(s[a]));
        double best = -1;
        float bestThreshold = float.PositiveInfinity;
        int tp = 0, fp = 0;
        for (int i = 0; i < n;)
        {
            float v = s[order[i]];
            while (i < n && s[order[i]] == v) { if (lab[order[i]]) tp++; else fp++; i++; }
            double precision = (double)tp / (tp + fp), recall = (double)tp / positives;
            double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
            if (f1 >= best) { best = f1; bestThreshold = v; }
        }
        return (best, bestThreshold);
    }
}
