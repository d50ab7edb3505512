using static PatchCore.Backends.TrainingContracts;
namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public LossOutput NtXentForward(DeviceTensor z, int pairs, double temperature)
    {
        CheckNtXent(z, pairs, temperature);
        var (loss, p) = ReferenceTraining.NtXentForward(Wide(z), z[0], z[1], pairs, temperature);
        return new LossOutput(loss, Narrow(p, [2 * pairs, z[0]]));
    }

    public DeviceTensor NtXentBackward(LossOutput forward, DeviceTensor z, int pairs, double temperature, double lossGradient)
    {
        CheckNtXent(z, pairs, temperature);
        RequireShape(forward.Saved, "NT-Xent saved probabilities", 2 * pairs, z[0]);
        return Narrow(ReferenceTraining.NtXentBackward(Wide(forward.Saved), Wide(z), z[0], z[1], pairs, temperature, lossGradient), z.Shape);
    }

}

public static partial class ReferenceTraining
{
    /// <summary>Row i's positive: its other view, P rows away.</summary>
    static int Positive(int i, int pairs) => i < pairs ? i + pairs : i - pairs;

    /// <summary>
    /// NT-Xent over z [rows = 2P + E, dim]: for each anchor i &lt; 2P, s_ik = z_i·z_k/τ for every k ≠ i (the other
    /// views AND the E extra negatives), p_ik = softmax over those k, loss_i = −log p_i,pos(i); the loss is the
    /// mean over the 2P anchors. Returns the loss and p [2P, rows] with p_ii = 0.
    /// </summary>
    public static (double Loss, double[] Probabilities) NtXentForward(double[] z, int rows, int dim, int pairs, double temperature)
    {
        RequireLength(z, (long)rows * dim, "NT-Xent rows");
        int anchors = 2 * pairs;
        var p = Output((long)anchors * rows);
        var s = new double[rows];
        double total = 0;
        for (int i = 0; i < anchors; i++)
        {
            double max = double.NegativeInfinity;
            for (int k = 0; k < rows; k++)
            {
                if (k == i) continue;
                double dot = 0;
                for (int d = 0; d < dim; d++) dot += z[(long)i * dim + d] * z[(long)k * dim + d];
                s[k] = dot / temperature;
                max = Math.Max(max, s[k]);
            }
            double sum = 0;
            for (int k = 0; k < rows; k++) if (k != i) sum += Math.Exp(s[k] - max);
            for (int k = 0; k < rows; k++) p[(long)i * rows + k] = k == i ? 0 : Math.Exp(s[k] - max) / sum;
            total += max + Math.Log(sum) - s[Positive(i, pairs)];
        }
        return (total / anchors, p);
    }

    /// <summary>
    /// With G_ik = g·(p_ik − [k = pos(i)])/(2P) = dloss/ds_ik for anchors i (G_ii = 0) and s_ik = z_i·z_k/τ, each
    /// row receives from both ends of every similarity it is in: dz_j = (Σ_k G_jk·z_k [j an anchor] + Σ_i G_ij·z_i)/τ.
    /// Extra negatives get only the second sum.
    /// </summary>
    public static double[] NtXentBackward(double[] p, double[] z, int rows, int dim, int pairs, double temperature, double lossGradient)
    {
        RequireLength(z, (long)rows * dim, "NT-Xent rows");
        int anchors = 2 * pairs;
        RequireLength(p, (long)anchors * rows, "NT-Xent probabilities");
        double scale = lossGradient / anchors;
        double G(int i, int k) => i == k ? 0 : scale * (p[(long)i * rows + k] - (k == Positive(i, pairs) ? 1 : 0));
        var dz = Output(z.LongLength);
        for (int j = 0; j < rows; j++)
        for (int d = 0; d < dim; d++)
        {
            double acc = 0;
            if (j < anchors)
                for (int k = 0; k < rows; k++) acc += G(j, k) * z[(long)k * dim + d];
            for (int i = 0; i < anchors; i++) acc += G(i, j) * z[(long)i * dim + d];
            dz[(long)j * dim + d] = acc / temperature;
        }
        return dz;
    }
}
