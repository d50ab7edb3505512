using PatchCore.Backends;
using PatchCore.Backends.Reference;

namespace PatchCore.Cuda;

/// <summary>
/// The two losses on the HOST: the logits (or rows) are copied back, the loss, the probabilities and the
/// gradient are computed in float64 by the reference's own loops (Backends/Reference/Training/
/// SoftmaxCrossEntropy.cs, NtXentLoss.cs) and the results copied up. The batches are small (N ≤ a few hundred
/// logits rows; NT-Xent is O(rows²·D) with rows = 2P + E of a few hundred and D = 128), so two copies and a
/// stream synchronisation per step cost far less than the backbone's step, and the loss is needed on the host
/// anyway. A kernel version (cuBLAS for z·zᵀ, one block per row for the softmax) is the way to go if batches grow.
/// </summary>
public sealed partial class CudaBackend
{
    public LossOutput SoftmaxCrossEntropyForward(DeviceTensor logits, ReadOnlySpan<int> labels)
    {
        CheckLogits(logits, labels);
        var (loss, p) = ReferenceTraining.SoftmaxCrossEntropyForward(Widen(logits), logits[0], logits[1], labels);
        return new LossOutput(loss, UploadNarrow(p, logits.Shape));
    }

    public DeviceTensor SoftmaxCrossEntropyBackward(LossOutput forward, ReadOnlySpan<int> labels, double lossGradient)
    {
        var p = forward.Saved;
        CheckLogits(p, labels);
        return UploadNarrow(ReferenceTraining.SoftmaxCrossEntropyBackward(Widen(p), p[0], p[1], labels, lossGradient), p.Shape);
    }

    public LossOutput NtXentForward(DeviceTensor z, int pairs, double temperature)
    {
        CheckNtXent(z, pairs, temperature);
        var (loss, p) = ReferenceTraining.NtXentForward(Widen(z), z[0], z[1], pairs, temperature);
        return new LossOutput(loss, UploadNarrow(p, [2 * pairs, z[0]]));
    }

    public DeviceTensor NtXentBackward(LossOutput forward, DeviceTensor z, int pairs, double temperature, double lossGradient)
    {
        CheckNtXent(z, pairs, temperature);
        RequireShape(forward.Saved, "NT-Xent saved probabilities", 2 * pairs, z[0]);
        return UploadNarrow(ReferenceTraining.NtXentBackward(Widen(forward.Saved), Widen(z), z[0], z[1], pairs, temperature, lossGradient), z.Shape);
    }

    static void CheckLogits(DeviceTensor logits, ReadOnlySpan<int> labels)
    {
        if (logits.Rank != 2) throw new ArgumentException($"cross-entropy needs logits [N, K], got {logits.ShapeString}");
        if (labels.Length != logits[0]) throw new ArgumentException($"{labels.Length} labels for {logits[0]} rows");
    }

    static void CheckNtXent(DeviceTensor z, int pairs, double temperature)
    {
        if (z.Rank != 2) throw new ArgumentException($"NT-Xent needs rows [2P + E, D], got {z.ShapeString}");
        if (pairs < 1 || 2 * pairs > z[0]) throw new ArgumentException($"NT-Xent: {pairs} pairs need 2·{pairs} of the {z[0]} rows");
        if (!(temperature > 0)) throw new ArgumentException($"NT-Xent temperature {temperature} must be positive");
    }

    /// <summary>A device tensor copied to the host and widened to double.</summary>
    double[] Widen(DeviceTensor t)
    {
        var f = new float[t.Length];
        Download(t, f);
        var d = new double[f.Length];
        for (int i = 0; i < f.Length; i++) d[i] = f[i];
        return d;
    }

    /// <summary>Double values rounded to float32 and copied into a new device tensor.</summary>
    DeviceTensor UploadNarrow(double[] values, int[] shape)
    {
        var f = new float[values.Length];
        for (int i = 0; i < f.Length; i++) f[i] = (float)values[i];
        return Upload(f, shape);
    }
}
