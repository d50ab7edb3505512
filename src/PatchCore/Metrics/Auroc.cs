namespace PatchCore.Metrics;

/// <summary>
/// Area under the ROC curve = the Mann–Whitney probability that a random positive scores above a random negative,
/// ties counted one half (averaged ranks). Equals scikit-learn's roc_auc_score, whose ROC collapses tied scores
/// into one point. Memory: one float copy of the scores (positives and negatives sorted separately), so 16M
/// pixels take 64 MB and two sorts.
/// </summary>
public static class Auroc
{
    public static double Compute(ReadOnlySpan<float> scores, ReadOnlySpan<bool> labels)
    {
        if (scores.Length != labels.Length)
            throw new ArgumentException($"{scores.Length} scores but {labels.Length} labels");
        int positives = 0;
        foreach (bool l in labels) if (l) positives++;
        int negatives = labels.Length - positives;
        if (positives == 0 || negatives == 0)
            throw new ArgumentException("AUROC needs both positive and negative samples");
        var pos = new float[positives];
        var neg = new float[negatives];
        int ip = 0, ineg = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            float s = scores[i];
            if (float.IsNaN(s)) throw new ArgumentException($"score {i} is NaN");
            if (labels[i]) pos[ip++] = s; else neg[ineg++] = s;
        }
        Array.Sort(pos);
        Array.Sort(neg);
        // For each run of equal positive scores: negatives strictly below count 1, equal ones 1/2.
        double wins = 0;
        int below = 0; // negatives < v
        for (int i = 0; i < positives;)
        {
            float v = pos[i];
            int run = 1;
            while (i + run < positives && pos[i + run] == v) run++;
            while (below < negatives && neg[below] < v) below++;
            int equal = 0;
            while (below + equal < negatives && neg[below + equal] == v) equal++;
            wins += run * (below + 0.5 * equal);
            i += run;
        }
        return wins / ((double)positives * negatives);
    }
}
