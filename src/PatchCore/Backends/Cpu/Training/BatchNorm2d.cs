using static PatchCore.Backends.TrainingContracts;
using System.Numerics.Tensors;

namespace PatchCore.Backends.Cpu;

/// <summary>
/// Training-mode BatchNorm on the CPU: one channel per task (the team's threads), every reduction of a channel in
/// double and in a fixed order (image by image, cell by cell), so the result does not depend on the thread count.
/// The normalise step is one fused multiply-add per plane (y = x·scale + shift, scale = γ·inv, shift = β − μ·scale).
/// </summary>
public sealed partial class CpuBackend
{
    public BatchNormTrainOutput BatchNorm2dTrainForward(DeviceTensor x, DeviceTensor gamma, DeviceTensor beta,
        DeviceTensor runningMean, DeviceTensor runningVar, double momentum, double eps)
    {
        int c = CheckBatchNorm(x, gamma, beta, runningMean, runningVar);
        int n = x[0], cells = BatchNormCells(x);
        long m = (long)n * cells;
        if (m < 2) throw new ArgumentException("batch-norm training needs more than one value per channel (the unbiased variance divides by M − 1)");
        float[] xd = HostMemory.AsHost(x).Data, g = HostMemory.AsHost(gamma).Data, b = HostMemory.AsHost(beta).Data,
            rm = HostMemory.AsHost(runningMean).Data, rv = HostMemory.AsHost(runningVar).Data;
        var y = HostMemory.Rent(x.Shape); // pooled: every element written
        var mean = HostMemory.Allocate([c]);
        var invStd = HostMemory.Allocate([c]);
        float[] yd = y.Data, md = mean.Data, id = invStd.Data;
        Team.For(c, ch =>
        {
            double sum = 0;
            for (int img = 0; img < n; img++)
            {
                var plane = xd.AsSpan((int)(((long)img * c + ch) * cells), cells);
                for (int i = 0; i < plane.Length; i++) sum += plane[i];
            }
            double mu = sum / m, sq = 0;
            for (int img = 0; img < n; img++)
            {
                var plane = xd.AsSpan((int)(((long)img * c + ch) * cells), cells);
                for (int i = 0; i < plane.Length; i++) { double d = plane[i] - mu; sq += d * d; }
            }
            double inv = 1 / Math.Sqrt(sq / m + eps), scale = g[ch] * inv;
            float fs = (float)scale, fb = (float)(b[ch] - mu * scale);
            for (int img = 0; img < n; img++)
            {
                int o = (int)(((long)img * c + ch) * cells);
                Affine(xd.AsSpan(o, cells), fs, fb, yd.AsSpan(o, cells));
            }
            md[ch] = (float)mu;
            id[ch] = (float)inv;
            rm[ch] = (float)((1 - momentum) * rm[ch] + momentum * mu);
            rv[ch] = (float)((1 - momentum) * rv[ch] + momentum * sq / (m - 1));
        });
        return new BatchNormTrainOutput(y, mean, invStd);
    }

    /// <summary>dβ = Σ dy, dγ = Σ dy·x̂, dx = γ·inv/M·(M·dy − dβ − x̂·dγ), sums per channel in double.</summary>
    public LayerGradients BatchNorm2dTrainBackward(DeviceTensor dy, DeviceTensor x, DeviceTensor gamma,
        DeviceTensor savedMean, DeviceTensor savedInvStd)
    {
        RequireBatchNormInput(x);
        int n = x[0], c = x[1], cells = BatchNormCells(x);
        RequireShape(dy, "batch-norm output gradient", x.Shape);
        RequireShape(gamma, "batch-norm gamma", c);
        RequireShape(savedMean, "batch-norm saved mean", c);
        RequireShape(savedInvStd, "batch-norm saved 1/std", c);
        float[] xd = HostMemory.AsHost(x).Data, dyd = HostMemory.AsHost(dy).Data, g = HostMemory.AsHost(gamma).Data,
            md = HostMemory.AsHost(savedMean).Data, id = HostMemory.AsHost(savedInvStd).Data;
        long m = (long)n * cells;
        var dx = HostMemory.Rent(x.Shape); // pooled: every element written
        var dgamma = HostMemory.Allocate([c]);
        var dbeta = HostMemory.Allocate([c]);
        float[] dxd = dx.Data, dgd = dgamma.Data, dbd = dbeta.Data;
        Team.For(c, ch =>
        {
            double mu = md[ch], inv = id[ch], sumDy = 0, sumDyXhat = 0;
            for (int img = 0; img < n; img++)
            {
                int o = (int)(((long)img * c + ch) * cells);
                for (int i = 0; i < cells; i++)
                {
                    double d = dyd[o + i];
                    sumDy += d;
                    sumDyXhat += d * (xd[o + i] - mu) * inv;
                }
            }
            double scale = g[ch] * inv / m;
            for (int img = 0; img < n; img++)
            {
                int o = (int)(((long)img * c + ch) * cells);
                for (int i = 0; i < cells; i++)
                    dxd[o + i] = (float)(scale * (m * (double)dyd[o + i] - sumDy - (xd[o + i] - mu) * inv * sumDyXhat));
            }
            dgd[ch] = (float)sumDyXhat;
            dbd[ch] = (float)sumDy;
        });
        return new LayerGradients(dx, dgamma, dbeta);
    }
}
