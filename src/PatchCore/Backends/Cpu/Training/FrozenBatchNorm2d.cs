using static PatchCore.Backends.TrainingContracts;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace PatchCore.Backends.Cpu;

/// <summary>Frozen BatchNorm: an affine map per channel (running statistics constants); one channel per task,
/// the parameter-gradient sums in double in a fixed order.</summary>
public sealed partial class CpuBackend
{
    public DeviceTensor BatchNorm2dFrozenForward(DeviceTensor x, DeviceTensor gamma, DeviceTensor beta,
        DeviceTensor runningMean, DeviceTensor runningVar, double eps)
    {
        int c = CheckBatchNorm(x, gamma, beta, runningMean, runningVar);
        int n = x[0], cells = BatchNormCells(x);
        float[] xd = HostMemory.AsHost(x).Data, g = HostMemory.AsHost(gamma).Data, b = HostMemory.AsHost(beta).Data,
            rm = HostMemory.AsHost(runningMean).Data, rv = HostMemory.AsHost(runningVar).Data;
        var y = HostMemory.Rent(x.Shape); // pooled: every element written
        var yd = y.Data;
        Team.For(c, ch =>
        {
            double scale = g[ch] / Math.Sqrt(rv[ch] + eps);
            float fs = (float)scale, fb = (float)(b[ch] - rm[ch] * scale);
            for (int img = 0; img < n; img++)
            {
                int o = (int)(((long)img * c + ch) * cells);
                Affine(xd.AsSpan(o, cells), fs, fb, yd.AsSpan(o, cells));
            }
        });
        return y;
    }

    public LayerGradients BatchNorm2dFrozenBackward(DeviceTensor dy, DeviceTensor x, DeviceTensor gamma,
        DeviceTensor runningMean, DeviceTensor runningVar, double eps)
    {
        int c = CheckBatchNorm(x, gamma, gamma, runningMean, runningVar);
        RequireShape(dy, "batch-norm output gradient", x.Shape);
        int n = x[0], cells = BatchNormCells(x);
        float[] xd = HostMemory.AsHost(x).Data, dyd = HostMemory.AsHost(dy).Data, g = HostMemory.AsHost(gamma).Data,
            rm = HostMemory.AsHost(runningMean).Data, rv = HostMemory.AsHost(runningVar).Data;
        var dx = HostMemory.Rent(x.Shape); // pooled: every element written
        var dgamma = HostMemory.Allocate([c]);
        var dbeta = HostMemory.Allocate([c]);
        float[] dxd = dx.Data, dgd = dgamma.Data, dbd = dbeta.Data;
        Team.For(c, ch =>
        {
            double inv = 1 / Math.Sqrt(rv[ch] + eps), mu = rm[ch], sumDy = 0, sumDyXhat = 0;
            float scale = (float)(g[ch] * inv);
            for (int img = 0; img < n; img++)
            {
                int o = (int)(((long)img * c + ch) * cells);
                TensorPrimitives.Multiply(dyd.AsSpan(o, cells), scale, dxd.AsSpan(o, cells));
                for (int i = 0; i < cells; i++)
                {
                    double d = dyd[o + i];
                    sumDy += d;
                    sumDyXhat += d * (xd[o + i] - mu) * inv;
                }
            }
            dgd[ch] = (float)sumDyXhat;
            dbd[ch] = (float)sumDy;
        });
        return new LayerGradients(dx, dgamma, dbeta);
    }

    /// <summary>y = x·scale + shift over one plane, 8 lanes at a time.</summary>
    static void Affine(ReadOnlySpan<float> x, float scale, float shift, Span<float> y)
    {
        int i = 0;
        var vs = System.Runtime.Intrinsics.Vector256.Create(scale);
        var vb = System.Runtime.Intrinsics.Vector256.Create(shift);
        for (; i <= x.Length - 8; i += 8)
            (System.Runtime.Intrinsics.Vector256.Create(x.Slice(i, 8)) * vs + vb).CopyTo(y.Slice(i, 8));
        for (; i < x.Length; i++) y[i] = x[i] * scale + shift;
    }
}
