using static PatchCore.Backends.TrainingContracts;
namespace PatchCore.Backends.Cpu;

/// <summary>Softmax cross-entropy over logits [N, K] (K a handful of classes): plain loops in double, the loss
/// summed over rows in order.</summary>
public sealed partial class CpuBackend
{
    public LossOutput SoftmaxCrossEntropyForward(DeviceTensor logits, ReadOnlySpan<int> labels)
    {
        CheckLogits(logits, labels);
        int n = logits[0], k = logits[1];
        if (n < 1) throw new ArgumentException("cross-entropy of an empty batch");
        var z = HostMemory.AsHost(logits).Data;
        var p = HostMemory.Allocate(logits.Shape);
        double total = 0;
        for (int r = 0; r < n; r++)
        {
            int label = labels[r];
            if (label < 0 || label >= k) throw new ArgumentException($"label {label} of row {r} outside 0..{k - 1}");
            double max = double.NegativeInfinity, sum = 0;
            for (int j = 0; j < k; j++) max = Math.Max(max, z[r * k + j]);
            for (int j = 0; j < k; j++) sum += Math.Exp(z[r * k + j] - max);
            for (int j = 0; j < k; j++) p.Data[r * k + j] = (float)(Math.Exp(z[r * k + j] - max) / sum);
            total += max + Math.Log(sum) - z[r * k + label];
        }
        return new LossOutput(total / n, p);
    }

    public DeviceTensor SoftmaxCrossEntropyBackward(LossOutput forward, ReadOnlySpan<int> labels, double lossGradient)
    {
        var p = forward.Saved;
        CheckLogits(p, labels);
        int n = p[0], k = p[1];
        var pd = HostMemory.AsHost(p).Data;
        var dz = HostMemory.Allocate(p.Shape);
        for (int r = 0; r < n; r++)
            for (int j = 0; j < k; j++)
                dz.Data[r * k + j] = (float)(lossGradient * (pd[r * k + j] - (j == labels[r] ? 1 : 0)) / n);
        return dz;
    }
}
