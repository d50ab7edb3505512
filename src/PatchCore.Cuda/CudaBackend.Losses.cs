using static PatchCore.Backends.TrainingContracts;
using PatchCore.Backends;
using PatchCore.Backends.Reference;
using PatchCore.Cuda.Native;

namespace PatchCore.Cuda;

/// <summary>
/// The two losses, their softmax parts on the HOST in float64 (the loss is returned to the host anyway, which
/// synchronises the stream; the batches are small: N ≤ a few hundred rows).
/// <list type="bullet">
/// <item>Softmax cross-entropy: the logits [N, K] are copied back and the reference's own float64 loops
/// (Backends/Reference/Training/SoftmaxCrossEntropy.cs) give the loss, p and dlogits, copied up: O(N·K).</item>
/// <item>NT-Xent: the O(rows²·D) products run on the device with cuBLAS — the similarities S = z_a·zᵀ/τ of the 2P
/// anchors against all rows, and dz = (Gᵀ·z_a + [G·z over the anchors])/τ — and only the O(2P·rows) softmax and
/// its gradient G on the host (S copied back, G copied up). Truth: Backends/Reference/Training/NtXentLoss.cs.</item>
/// </list>
/// </summary>
public sealed unsafe partial class CudaBackend
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
        int rows = z[0], dim = z[1], anchors = 2 * pairs;
        // S [2P, rows] = z_a [2P, D]·zᵀ / τ (z_a: the first 2P rows of z). Column-major Sᵀ [rows x 2P] = zᵀ_cm·z_a,cm:
        // Sgemm(T, N, m = rows, n = 2P, k = D, A = z (lda = D), B = z_a (ldb = D), C = S (ldc = rows)), α = 1/τ.
        using var s = (CudaTensor)Allocate(anchors, rows);
        Gemm(Cublas.CUBLAS_OP_T, Cublas.CUBLAS_OP_N, rows, anchors, dim, T(z).Ptr, dim, T(z).Ptr, dim, s.Ptr, rows,
            "NT-Xent similarities", alpha: (float)(1 / temperature));
        var sim = Widen(s);
        // Per anchor i, over k ≠ i: p_ik = softmax(s_i·), loss_i = logsumexp − s_i,pos(i) (the row maximum first).
        var p = new double[sim.Length];
        double total = 0;
        for (int i = 0; i < anchors; i++)
        {
            var row = sim.AsSpan(i * rows, rows);
            double max = double.NegativeInfinity, sum = 0;
            for (int k = 0; k < rows; k++) if (k != i) max = Math.Max(max, row[k]);
            for (int k = 0; k < rows; k++) if (k != i) sum += Math.Exp(row[k] - max);
            for (int k = 0; k < rows; k++) p[i * rows + k] = k == i ? 0 : Math.Exp(row[k] - max) / sum;
            total += max + Math.Log(sum) - row[i < pairs ? i + pairs : i - pairs];
        }
        return new LossOutput(total / anchors, UploadNarrow(p, [anchors, rows]));
    }

    public DeviceTensor NtXentBackward(LossOutput forward, DeviceTensor z, int pairs, double temperature, double lossGradient)
    {
        CheckNtXent(z, pairs, temperature);
        int rows = z[0], dim = z[1], anchors = 2 * pairs;
        RequireShape(forward.Saved, "NT-Xent saved probabilities", anchors, rows);
        // G_ik = dloss/ds_ik = g·(p_ik − [k = pos(i)])/(2P), G_ii = 0 (p_ii is 0 and i is never its own positive).
        var g = Widen(forward.Saved);
        double scale = lossGradient / anchors;
        for (int i = 0; i < anchors; i++)
        for (int k = 0; k < rows; k++)
            g[i * rows + k] = i == k ? 0 : scale * (g[i * rows + k] - (k == (i < pairs ? i + pairs : i - pairs) ? 1 : 0));
        using var gt = (CudaTensor)UploadNarrow(g, [anchors, rows]);
        var dz = (CudaTensor)Allocate(z.Shape);
        float invT = (float)(1 / temperature);
        // Every row as the k end of the anchors' similarities: dz [rows, D] = Gᵀ [rows, 2P]·z_a [2P, D]/τ. Column-major
        // dzᵀ [D x rows] = z_a,cm [D x 2P]·G_cmᵀ: Sgemm(N, T, m = D, n = rows, k = 2P, A = z (lda = D), B = G (ldb = rows)).
        Gemm(Cublas.CUBLAS_OP_N, Cublas.CUBLAS_OP_T, dim, rows, anchors, T(z).Ptr, dim, gt.Ptr, rows, dz.Ptr, dim,
            "NT-Xent dz (as negatives)", alpha: invT);
        // The anchors as the i end too: dz[0..2P) += G [2P, rows]·z [rows, D]/τ. Column-major dz_aᵀ [D x 2P] += z_cm·G_cm:
        // Sgemm(N, N, m = D, n = 2P, k = rows, A = z (lda = D), B = G (ldb = rows)), β = 1.
        Gemm(Cublas.CUBLAS_OP_N, Cublas.CUBLAS_OP_N, dim, anchors, rows, T(z).Ptr, dim, gt.Ptr, rows, dz.Ptr, dim,
            "NT-Xent dz (as anchors)", alpha: invT, beta: 1f);
        return dz;
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
