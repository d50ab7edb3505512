using static PatchCore.Backends.TrainingContracts;
using System.Numerics.Tensors;

namespace PatchCore.Backends.Cpu;

/// <summary>
/// NT-Xent (SimCLR) on rows z [2P + E, D]: the similarities are SIMD dot products (rows in parallel), the softmax
/// and loss in double; the backward forms G = dloss/ds [2P, rows] once, then each row's gradient is a fixed-order
/// sum of rows of z (rows in parallel), so the result does not depend on the thread count.
/// </summary>
public sealed partial class CpuBackend
{
    public LossOutput NtXentForward(DeviceTensor z, int pairs, double temperature)
    {
        CheckNtXent(z, pairs, temperature);
        int rows = z[0], dim = z[1], anchors = 2 * pairs;
        var zd = HostMemory.AsHost(z).Data;
        var p = HostMemory.Allocate([anchors, rows]);
        var pd = p.Data;
        var rowLoss = new double[anchors];
        Team.For(anchors, i =>
        {
            var s = new double[rows];
            double max = double.NegativeInfinity;
            var zi = zd.AsSpan(i * dim, dim);
            for (int k = 0; k < rows; k++)
            {
                if (k == i) continue;
                s[k] = TensorPrimitives.Dot(zi, zd.AsSpan(k * dim, dim)) / temperature;
                max = Math.Max(max, s[k]);
            }
            double sum = 0;
            for (int k = 0; k < rows; k++) if (k != i) sum += Math.Exp(s[k] - max);
            for (int k = 0; k < rows; k++) pd[i * rows + k] = k == i ? 0 : (float)(Math.Exp(s[k] - max) / sum);
            rowLoss[i] = max + Math.Log(sum) - s[i < pairs ? i + pairs : i - pairs];
        });
        double total = 0;
        for (int i = 0; i < anchors; i++) total += rowLoss[i];
        return new LossOutput(total / anchors, p);
    }

    /// <summary>dz_j = (Σ_k G_jk·z_k [j an anchor] + Σ_i G_ij·z_i)/τ with G_ik = g·(p_ik − [k = pos(i)])/(2P).</summary>
    public DeviceTensor NtXentBackward(LossOutput forward, DeviceTensor z, int pairs, double temperature, double lossGradient)
    {
        CheckNtXent(z, pairs, temperature);
        int rows = z[0], dim = z[1], anchors = 2 * pairs;
        RequireShape(forward.Saved, "NT-Xent saved probabilities", anchors, rows);
        float[] zd = HostMemory.AsHost(z).Data, pd = HostMemory.AsHost(forward.Saved).Data;
        double scale = lossGradient / anchors;
        var g = new float[anchors * rows];
        for (int i = 0; i < anchors; i++)
        {
            int pos = i < pairs ? i + pairs : i - pairs;
            for (int k = 0; k < rows; k++)
                g[i * rows + k] = k == i ? 0 : (float)(scale * (pd[i * rows + k] - (k == pos ? 1 : 0)));
        }
        var dz = HostMemory.Allocate(z.Shape);
        var dzd = dz.Data;
        float invT = (float)(1 / temperature);
        Team.For(rows, j =>
        {
            var acc = new double[dim];
            if (j < anchors)
                for (int k = 0; k < rows; k++) AddScaled(acc, zd.AsSpan(k * dim, dim), g[j * rows + k]);
            for (int i = 0; i < anchors; i++) AddScaled(acc, zd.AsSpan(i * dim, dim), g[i * rows + j]);
            for (int d = 0; d < dim; d++) dzd[j * dim + d] = (float)(acc[d] / temperature);
        });
        return dz;
    }

    static void AddScaled(double[] acc, ReadOnlySpan<float> row, float scale)
    {
        if (scale == 0) return;
        for (int d = 0; d < acc.Length; d++) acc[d] += (double)scale * row[d];
    }
}
