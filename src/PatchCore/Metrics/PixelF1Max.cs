namespace PatchCore.Metrics;

/// <summary>
/// <see cref="F1Max"/> over millions of values (every pixel of a test set's maps): the same rule (every distinct
/// value a candidate threshold, anomalous when ≥, the lowest threshold reaching the best F1), but one sort of a
/// copy of the values with their labels carried along (Array.Sort(keys, items)) instead of an index sort through
/// a comparison delegate, and one sweep from the top.
/// </summary>
public static class PixelF1Max
{
    public static (double F1, float Threshold) Compute(ReadOnlySpan<float> values, ReadOnlySpan<bool> labels)
    {
        if (values.Length != labels.Length) throw new ArgumentException($"{values.Length} values but {labels.Length} labels");
        var keys = values.ToArray();
        var lab = labels.ToArray();
        int positives = 0;
        foreach (bool l in lab) if (l) positives++;
        if (positives == 0) throw new ArgumentException("F1 needs at least one positive pixel");
        foreach (float v in keys) if (float.IsNaN(v)) throw new ArgumentException("a map value is NaN");
        Array.Sort(keys, lab); // ascending; sweep down from the highest value
        double best = -1;
        float bestThreshold = float.PositiveInfinity;
        long tp = 0, fp = 0;
        for (int i = keys.Length - 1; i >= 0;)
        {
            float v = keys[i];
            while (i >= 0 && keys[i] == v) { if (lab[i]) tp++; else fp++; i--; }
            double precision = (double)tp / (tp + fp), recall = (double)tp / positives;
            double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
            if (f1 >= best) { best = f1; bestThreshold = v; }
        }
        return (best, bestThreshold);
    }
}
