namespace PatchCore.Metrics;

/// <summary>
/// The walk F1Max and ThresholdSweep share: sort the scores descending and lower the threshold through each
/// distinct score, adding that score's samples; one step per distinct score with the counts at or above it.
/// </summary>
static class DescendingScoreWalk
{
    public readonly record struct Step(float Threshold, int TruePositives, int FalsePositives);

    /// <summary>The steps, highest threshold first; <paramref name="positives"/> = samples labelled true.</summary>
    public static Step[] Steps(ReadOnlySpan<float> scores, ReadOnlySpan<bool> labels, out int positives)
    {
        if (scores.Length != labels.Length) throw new ArgumentException($"{scores.Length} scores but {labels.Length} labels");
        int n = scores.Length;
        positives = 0;
        foreach (bool l in labels) if (l) positives++;
        var s = scores.ToArray();
        var lab = labels.ToArray();
        foreach (float v in s) if (float.IsNaN(v)) throw new ArgumentException("a score is NaN");
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Array.Sort(order, (a, b) => s[b].CompareTo(s[a]));
        var steps = new List<Step>();
        int tp = 0, fp = 0;
        for (int i = 0; i < n;)
        {
            float v = s[order[i]];
            while (i < n && s[order[i]] == v) { if (lab[order[i]]) tp++; else fp++; i++; }
            steps.Add(new Step(v, tp, fp));
        }
        return steps.ToArray();
    }
}
