using static PatchCore.Backends.TrainingContracts;
namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public LossOutput SoftmaxCrossEntropyForward(DeviceTensor logits, ReadOnlySpan<int> labels)
    {
        CheckLogits(logits, labels);
        var (loss, p) = ReferenceTraining.SoftmaxCrossEntropyForward(Wide(logits), logits[0], logits[1], labels);
        return new LossOutput(loss, Narrow(p, logits.Shape));
    }

    public DeviceTensor SoftmaxCrossEntropyBackward(LossOutput forward, ReadOnlySpan<int> labels, double lossGradient)
    {
        var p = forward.Saved;
        CheckLogits(p, labels);
        return Narrow(ReferenceTraining.SoftmaxCrossEntropyBackward(Wide(p), p[0], p[1], labels, lossGradient), p.Shape);
    }

}

public static partial class ReferenceTraining
{
    /// <summary>
    /// p = softmax(logits) per row [n, k] (the row maximum subtracted first so exp cannot overflow);
    /// loss = mean_r [log Σ_j exp z_rj − z_r,label]. Returns the loss and p.
    /// </summary>
    public static (double Loss, double[] Probabilities) SoftmaxCrossEntropyForward(double[] logits, int n, int k, ReadOnlySpan<int> labels)
    {
        RequireLength(logits, (long)n * k, "logits");
        if (n < 1) throw new ArgumentException("cross-entropy of an empty batch");
        var p = Output(logits.LongLength);
        double total = 0;
        for (int r = 0; r < n; r++)
        {
            int label = labels[r];
            if (label < 0 || label >= k) throw new ArgumentException($"label {label} of row {r} outside 0..{k - 1}");
            double max = double.NegativeInfinity;
            for (int j = 0; j < k; j++) max = Math.Max(max, logits[(long)r * k + j]);
            double sum = 0;
            for (int j = 0; j < k; j++) sum += Math.Exp(logits[(long)r * k + j] - max);
            for (int j = 0; j < k; j++) p[(long)r * k + j] = Math.Exp(logits[(long)r * k + j] - max) / sum;
            total += max + Math.Log(sum) - logits[(long)r * k + label];
        }
        return (total / n, p);
    }

    /// <summary>dz = g·(p − onehot(label))/n: the softmax's Jacobian folded with the log.</summary>
    public static double[] SoftmaxCrossEntropyBackward(double[] p, int n, int k, ReadOnlySpan<int> labels, double lossGradient)
    {
        RequireLength(p, (long)n * k, "probabilities");
        var dz = Output(p.LongLength);
        for (int r = 0; r < n; r++)
        for (int j = 0; j < k; j++)
            dz[(long)r * k + j] = lossGradient * (p[(long)r * k + j] - (j == labels[r] ? 1 : 0)) / n;
        return dz;
    }
}
