namespace PatchCore.Metrics;

/// <summary>
/// ROC points from the highest threshold down: a point per distinct score (ties collapsed into one point, as
/// scikit-learn's roc_curve without drop_intermediate), the first (0, 0) at a threshold just above the highest score
/// (nothing called anomalous), the last (1, 1). A sample is called anomalous when score ≥ threshold.
/// </summary>
public sealed record RocCurve(double[] Fpr, double[] Tpr, float[] Thresholds)
{
    /// <summary>Trapezoid area under the points: the AUROC (the averaged-rank value up to rounding, ties included,
    /// because each tie group is one straight segment).</summary>
    public double Area() => Curve.Trapezoid(Fpr, Tpr);

    public RocCurve Thin(int max)
    {
        var keep = Curve.ThinIndices(Fpr.Length, max);
        return keep == null ? this : new RocCurve(Curve.Pick(Fpr, keep), Curve.Pick(Tpr, keep), Curve.Pick(Thresholds, keep));
    }
}

/// <summary>
/// Precision–recall points from the highest threshold down: first (recall 0, precision 1) just above the highest
/// score (scikit-learn's closing point, put first), then one point per distinct score; the last has recall 1.
/// </summary>
public sealed record PrCurve(double[] Recall, double[] Precision, float[] Thresholds)
{
    /// <summary>Best F1 over the points (the first point, recall 0, has F1 0).</summary>
    public double F1Max()
    {
        double best = 0;
        for (int i = 0; i < Recall.Length; i++)
        {
            double p = Precision[i], r = Recall[i];
            if (p + r > 0) best = Math.Max(best, 2 * p * r / (p + r));
        }
        return best;
    }

    public PrCurve Thin(int max)
    {
        var keep = Curve.ThinIndices(Recall.Length, max);
        return keep == null ? this : new PrCurve(Curve.Pick(Recall, keep), Curve.Pick(Precision, keep), Curve.Pick(Thresholds, keep));
    }
}

/// <summary>
/// Per-region-overlap curve of <see cref="Aupro"/>: from (0, 0), a point per distinct score while FPR &lt; the limit,
/// and the closing point at FPR = limit exactly (PRO interpolated), so its trapezoid area / limit is the AUPRO.
/// </summary>
public sealed record ProCurve(double[] Fpr, double[] Pro, double FprLimit)
{
    public double NormalizedArea() => Curve.Trapezoid(Fpr, Pro) / FprLimit;

    public ProCurve Thin(int max)
    {
        var keep = Curve.ThinIndices(Fpr.Length, max);
        return keep == null ? this : new ProCurve(Curve.Pick(Fpr, keep), Curve.Pick(Pro, keep), FprLimit);
    }
}

/// <summary>Helpers shared by the curves: area, thinning.</summary>
public static class Curve
{
    /// <summary>The most points a curve keeps when written (curves.json): plots need no more.</summary>
    public const int MaxWrittenPoints = 1000;

    public static double Trapezoid(double[] x, double[] y)
    {
        double area = 0;
        for (int i = 1; i < x.Length; i++) area += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2;
        return area;
    }

    /// <summary>At most <paramref name="max"/> evenly spaced indices of <paramref name="count"/>, both ends kept;
    /// null when all fit.</summary>
    public static int[]? ThinIndices(int count, int max)
    {
        if (max < 2) throw new ArgumentException($"a thinned curve keeps at least its two end points, not {max}");
        if (count <= max) return null;
        var keep = new int[max];
        for (int i = 0; i < max; i++) keep[i] = (int)Math.Round((double)i * (count - 1) / (max - 1));
        return keep;
    }

    public static T[] Pick<T>(T[] a, int[] keep)
    {
        var r = new T[keep.Length];
        for (int i = 0; i < keep.Length; i++) r[i] = a[keep[i]];
        return r;
    }

    /// <summary>The threshold of the first point: the next float above the highest score, so nothing is called anomalous.</summary>
    public static float Above(float highest) => MathF.BitIncrement(highest);
}
