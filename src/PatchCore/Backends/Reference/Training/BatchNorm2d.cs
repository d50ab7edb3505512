using static PatchCore.Backends.TrainingContracts;
namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public BatchNormTrainOutput BatchNorm2dTrainForward(DeviceTensor x, DeviceTensor gamma, DeviceTensor beta,
        DeviceTensor runningMean, DeviceTensor runningVar, double momentum, double eps)
    {
        int c = CheckBatchNorm(x, gamma, beta, runningMean, runningVar);
        double[] rm = Wide(runningMean), rv = Wide(runningVar);
        var (y, mean, invStd) = ReferenceTraining.BatchNorm2dTrainForward(Wide(x), x[0], c, BatchNormCells(x),
            Wide(gamma), Wide(beta), rm, rv, momentum, eps);
        Store(rm, runningMean);
        Store(rv, runningVar);
        return new BatchNormTrainOutput(Narrow(y, x.Shape), Narrow(mean, [c]), Narrow(invStd, [c]));
    }

    public LayerGradients BatchNorm2dTrainBackward(DeviceTensor dy, DeviceTensor x, DeviceTensor gamma,
        DeviceTensor savedMean, DeviceTensor savedInvStd)
    {
        RequireBatchNormInput(x);
        int c = x[1];
        RequireShape(dy, "batch-norm output gradient", x.Shape);
        RequireShape(gamma, "batch-norm gamma", c);
        RequireShape(savedMean, "batch-norm saved mean", c);
        RequireShape(savedInvStd, "batch-norm saved 1/std", c);
        var (dx, dgamma, dbeta) = ReferenceTraining.BatchNorm2dTrainBackward(Wide(dy), Wide(x), x[0], c, BatchNormCells(x),
            Wide(gamma), Wide(savedMean), Wide(savedInvStd));
        return new LayerGradients(Narrow(dx, x.Shape), Narrow(dgamma, [c]), Narrow(dbeta, [c]));
    }

}

public static partial class ReferenceTraining
{
    /// <summary>
    /// Training-mode BN over x [n, c, cells]: per channel the batch mean μ and BIASED variance σ² over its
    /// M = n·cells values (two passes), x̂ = (x − μ)/sqrt(σ² + eps), y = γ·x̂ + β. Returns y, μ and 1/sqrt(σ² + eps);
    /// updates the running statistics in place as PyTorch: r = (1 − m)·r + m·batch, with σ²·M/(M − 1) for the var.
    /// </summary>
    public static (double[] Y, double[] Mean, double[] InvStd) BatchNorm2dTrainForward(double[] x, int n, int c, int cells,
        double[] gamma, double[] beta, double[] runningMean, double[] runningVar, double momentum, double eps)
    {
        long m = (long)n * cells;
        if (m < 2) throw new ArgumentException("batch-norm training needs more than one value per channel (the unbiased variance divides by M − 1)");
        RequireLength(x, m * c, "batch-norm input");
        var y = Output(x.LongLength);
        var mean = Output(c);
        var invStd = Output(c);
        for (int ch = 0; ch < c; ch++)
        {
            double sum = 0;
            for (int b = 0; b < n; b++)
            for (int i = 0; i < cells; i++) sum += x[((long)b * c + ch) * cells + i];
            double mu = sum / m, sq = 0;
            for (int b = 0; b < n; b++)
            for (int i = 0; i < cells; i++) { double d = x[((long)b * c + ch) * cells + i] - mu; sq += d * d; }
            double variance = sq / m, inv = 1 / Math.Sqrt(variance + eps);
            for (int b = 0; b < n; b++)
            for (int i = 0; i < cells; i++)
            {
                long k = ((long)b * c + ch) * cells + i;
                y[k] = gamma[ch] * (x[k] - mu) * inv + beta[ch];
            }
            mean[ch] = mu;
            invStd[ch] = inv;
            runningMean[ch] = (1 - momentum) * runningMean[ch] + momentum * mu;
            runningVar[ch] = (1 - momentum) * runningVar[ch] + momentum * sq / (m - 1);
        }
        return (y, mean, invStd);
    }

    /// <summary>
    /// With x̂ = (x − μ)·inv and sums over a channel's M values: dβ = Σ dy, dγ = Σ dy·x̂,
    /// dx = γ·inv/M · (M·dy − dβ − x̂·dγ) (the last two terms: μ and σ² depend on every x of the channel).
    /// </summary>
    public static (double[] Dx, double[] Dgamma, double[] Dbeta) BatchNorm2dTrainBackward(double[] dy, double[] x, int n, int c, int cells,
        double[] gamma, double[] mean, double[] invStd)
    {
        long m = (long)n * cells;
        RequireLength(x, m * c, "batch-norm input");
        RequireLength(dy, m * c, "batch-norm output gradient");
        var dx = Output(x.LongLength);
        var dgamma = Output(c);
        var dbeta = Output(c);
        for (int ch = 0; ch < c; ch++)
        {
            double sumDy = 0, sumDyXhat = 0, mu = mean[ch], inv = invStd[ch];
            for (int b = 0; b < n; b++)
            for (int i = 0; i < cells; i++)
            {
                long k = ((long)b * c + ch) * cells + i;
                sumDy += dy[k];
                sumDyXhat += dy[k] * (x[k] - mu) * inv;
            }
            double scale = gamma[ch] * inv / m;
            for (int b = 0; b < n; b++)
            for (int i = 0; i < cells; i++)
            {
                long k = ((long)b * c + ch) * cells + i;
                dx[k] = scale * (m * dy[k] - sumDy - (x[k] - mu) * inv * sumDyXhat);
            }
            dgamma[ch] = sumDyXhat;
            dbeta[ch] = sumDy;
        }
        return (dx, dgamma, dbeta);
    }
}
