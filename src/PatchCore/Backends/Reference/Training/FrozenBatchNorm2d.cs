using static PatchCore.Backends.TrainingContracts;
namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public DeviceTensor BatchNorm2dFrozenForward(DeviceTensor x, DeviceTensor gamma, DeviceTensor beta,
        DeviceTensor runningMean, DeviceTensor runningVar, double eps)
    {
        int c = CheckBatchNorm(x, gamma, beta, runningMean, runningVar);
        var y = ReferenceTraining.BatchNorm2dFrozenForward(Wide(x), x[0], c, BatchNormCells(x), Wide(gamma), Wide(beta),
            Wide(runningMean), Wide(runningVar), eps);
        return Narrow(y, x.Shape);
    }

    public LayerGradients BatchNorm2dFrozenBackward(DeviceTensor dy, DeviceTensor x, DeviceTensor gamma,
        DeviceTensor runningMean, DeviceTensor runningVar, double eps)
    {
        int c = CheckBatchNorm(x, gamma, gamma, runningMean, runningVar);
        RequireShape(dy, "batch-norm output gradient", x.Shape);
        var (dx, dgamma, dbeta) = ReferenceTraining.BatchNorm2dFrozenBackward(Wide(dy), Wide(x), x[0], c, BatchNormCells(x),
            Wide(gamma), Wide(runningMean), Wide(runningVar), eps);
        return new LayerGradients(Narrow(dx, x.Shape), Narrow(dgamma, [c]), Narrow(dbeta, [c]));
    }
}

public static partial class ReferenceTraining
{
    /// <summary>Frozen BN over x [n, c, cells]: y = γ·(x − r_μ)/sqrt(r_σ² + eps) + β, the running statistics constants.</summary>
    public static double[] BatchNorm2dFrozenForward(double[] x, int n, int c, int cells, double[] gamma, double[] beta,
        double[] runningMean, double[] runningVar, double eps)
    {
        RequireLength(x, (long)n * c * cells, "batch-norm input");
        var y = Output(x.LongLength);
        for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++)
        {
            double inv = 1 / Math.Sqrt(runningVar[ch] + eps);
            for (int i = 0; i < cells; i++)
            {
                long k = ((long)b * c + ch) * cells + i;
                y[k] = gamma[ch] * (x[k] - runningMean[ch]) * inv + beta[ch];
            }
        }
        return y;
    }

    /// <summary>An affine map per channel: dx = dy·γ·inv, dγ = Σ dy·(x − r_μ)·inv, dβ = Σ dy (inv = 1/sqrt(r_σ² + eps)).</summary>
    public static (double[] Dx, double[] Dgamma, double[] Dbeta) BatchNorm2dFrozenBackward(double[] dy, double[] x, int n, int c, int cells,
        double[] gamma, double[] runningMean, double[] runningVar, double eps)
    {
        RequireLength(x, (long)n * c * cells, "batch-norm input");
        RequireLength(dy, x.LongLength, "batch-norm output gradient");
        var dx = Output(x.LongLength);
        var dgamma = Output(c);
        var dbeta = Output(c);
        for (int ch = 0; ch < c; ch++)
        {
            double inv = 1 / Math.Sqrt(runningVar[ch] + eps), sumDy = 0, sumDyXhat = 0;
            for (int b = 0; b < n; b++)
            for (int i = 0; i < cells; i++)
            {
                long k = ((long)b * c + ch) * cells + i;
                dx[k] = dy[k] * gamma[ch] * inv;
                sumDy += dy[k];
                sumDyXhat += dy[k] * (x[k] - runningMean[ch]) * inv;
            }
            dgamma[ch] = sumDyXhat;
            dbeta[ch] = sumDy;
        }
        return (dx, dgamma, dbeta);
    }
}
