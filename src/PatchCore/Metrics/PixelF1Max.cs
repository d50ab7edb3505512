using PatchCore.Tensors;

namespace PatchCore.Metrics;

/// <summary>
/// <see cref="F1Max"/> over millions of values (every pixel of a test set's maps): the same rule (every distinct
/// value a candidate threshold, anomalous when ≥, the lowest threshold reaching the best F1), but one linear-time
/// radix sort of the values with their labels packed in (<see cref="RadixSort.SortedWithFlags"/>) and one sweep
/// from the top. (It was Array.Sort(keys, labels): ~0.5 s of a transistor run for 5M pixels, now a tenth.)
/// </summary>
public static class PixelF1Max
{
    public static (double F1, float Threshold) Compute(ReadOnlySpan<float> values, ReadOnlySpan<bool> labels)
    {
        if (values.Length != labels.Length) throw new ArgumentException($"{values.Length} values but {labels.Length} labels");
        int positives = 0;
        foreach (bool l in labels) if (l) positives++;
        if (positives == 0) throw new ArgumentException("F1 needs at least one positive pixel");
        foreach (float v in values) if (float.IsNaN(v)) throw new ArgumentException("a map value is NaN");
        var sorted = RadixSort.SortedWithFlags(values, labels); // ascending; sweep down from the highest value
        double best = -1;
        float bestThreshold = float.PositiveInfinity;
        long tp = 0, fp = 0;
        for (int i = sorted.Length - 1; i >= 0;)
        {
            ulong key = sorted[i] >> 1;
            while (i >= 0 && sorted[i] >> 1 == key) { if ((sorted[i] & 1) != 0) tp++; else fp++; i--; }
            double precision = (double)tp / (tp + fp), recall = (double)tp / positives;
            double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
            if (f1 >= best) { best = f1; bestThreshold = RadixSort.FromOrdered((uint)key); }
        }
        return (best, bestThreshold);
    }
}
