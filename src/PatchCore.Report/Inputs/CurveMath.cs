namespace PatchCore.ReportDocument.Inputs;

/// <summary>
/// The image ROC and PR curves from scores.csv, for runs written before curves.json existed. One point per distinct
/// score (ties move together, as scikit-learn's roc_curve does), starting at (0, 0) for the ROC.
/// </summary>
public static class CurveMath
{
    public static RunCurves FromScores(IReadOnlyList<ScoreRow> scores)
    {
        int pos = 0, neg = 0;
        foreach (var s in scores) if (s.Truth == 1) pos++; else neg++;
        if (pos == 0 || neg == 0) return RunCurves.None;
        var order = new int[scores.Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        Array.Sort(order, (a, b) => scores[b].Score.CompareTo(scores[a].Score));

        var fpr = new List<double> { 0 }; var tpr = new List<double> { 0 };
        var recall = new List<double>(); var precision = new List<double>();
        int tp = 0, fp = 0;
        for (int i = 0; i < order.Length; i++)
        {
            if (scores[order[i]].Truth == 1) tp++; else fp++;
            if (i + 1 < order.Length && scores[order[i + 1]].Score == scores[order[i]].Score) continue;
            fpr.Add((double)fp / neg); tpr.Add((double)tp / pos);
            recall.Add((double)tp / pos); precision.Add((double)tp / (tp + fp));
        }
        return new RunCurves(new Curve(fpr.ToArray(), tpr.ToArray()), new Curve(recall.ToArray(), precision.ToArray()),
            null, null, null, true);
    }

    /// <summary>Area under a curve by the trapezoid rule (x ascending).</summary>
    public static double Area(Curve c)
    {
        double a = 0;
        for (int i = 1; i < c.X.Length; i++) a += (c.X[i] - c.X[i - 1]) * (c.Y[i] + c.Y[i - 1]) / 2;
        return a;
    }
}
