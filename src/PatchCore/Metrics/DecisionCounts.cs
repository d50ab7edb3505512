using PatchCore.Scoring;

namespace PatchCore.Metrics;

/// <summary>
/// How the decisions at one image threshold fare on a labelled set: counts, the false-alarm rate (good images
/// called anomalous / good images), the miss rate (anomalous images called good / anomalous images) and the
/// accuracy. A rate whose class is absent is null.
/// </summary>
public sealed record DecisionCounts(double Threshold, int TruePositives, int FalsePositives, int TrueNegatives, int FalseNegatives)
{
    public int Good => FalsePositives + TrueNegatives;
    public int Anomalous => TruePositives + FalseNegatives;
    public double? FalseAlarmRate => Good > 0 ? (double)FalsePositives / Good : null;
    public double? MissRate => Anomalous > 0 ? (double)FalseNegatives / Anomalous : null;
    public double Accuracy => (double)(TruePositives + TrueNegatives) / Math.Max(1, Good + Anomalous);

    public static DecisionCounts Compute(ReadOnlySpan<float> scores, ReadOnlySpan<bool> anomalous, ScoreThreshold threshold)
    {
        if (scores.Length != anomalous.Length) throw new ArgumentException($"{scores.Length} scores but {anomalous.Length} labels");
        int tp = 0, fp = 0, tn = 0, fn = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            bool called = threshold.IsAnomalous(scores[i]);
            if (anomalous[i]) { if (called) tp++; else fn++; }
            else if (called) fp++; else tn++;
        }
        return new DecisionCounts(threshold.Threshold, tp, fp, tn, fn);
    }
}
