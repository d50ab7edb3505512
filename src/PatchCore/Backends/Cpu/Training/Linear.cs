using static PatchCore.Backends.TrainingContracts;
using System.Numerics.Tensors;

namespace PatchCore.Backends.Cpu;

/// <summary>
/// The linear layer (heads: a few hundred features, a handful of outputs): SIMD dot products and row updates
/// (TensorPrimitives), rows of the output in parallel; every sum runs in a fixed order, so the result does not
/// depend on the thread count.
/// </summary>
public sealed partial class CpuBackend
{
    public DeviceTensor LinearForward(DeviceTensor x, DeviceTensor weight, DeviceTensor? bias)
    {
        var (n, inF, outF) = CheckLinear(x, weight);
        if (bias != null) RequireShape(bias, "linear bias", outF);
        float[] xd = HostMemory.AsHost(x).Data, wd = HostMemory.AsHost(weight).Data;
        float[]? bd = bias == null ? null : HostMemory.AsHost(bias).Data;
        var y = HostMemory.Allocate([n, outF]);
        var yd = y.Data;
        Team.For(n, r =>
        {
            var row = xd.AsSpan(r * inF, inF);
            for (int o = 0; o < outF; o++)
                yd[r * outF + o] = TensorPrimitives.Dot(row, wd.AsSpan(o * inF, inF)) + (bd?[o] ?? 0f);
        });
        return y;
    }

    /// <summary>dx[r] = Σ_o dy[r, o]·W[o] (rows in parallel); dW[o] = Σ_r dy[r, o]·x[r] (output rows in parallel,
    /// images summed in order); db[o] = Σ_r dy[r, o] in double.</summary>
    public LayerGradients LinearBackward(DeviceTensor dy, DeviceTensor x, DeviceTensor weight, bool inputGradient, bool biasGradient)
    {
        var (n, inF, outF) = CheckLinear(x, weight);
        RequireShape(dy, "linear output gradient", n, outF);
        float[] xd = HostMemory.AsHost(x).Data, wd = HostMemory.AsHost(weight).Data, dyd = HostMemory.AsHost(dy).Data;
        HostDeviceTensor? dx = null, db = null;
        if (inputGradient)
        {
            dx = HostMemory.Allocate([n, inF]);
            var dxd = dx.Data;
            Team.For(n, r =>
            {
                var dst = dxd.AsSpan(r * inF, inF);
                dst.Clear();
                for (int o = 0; o < outF; o++) TensorPrimitives.MultiplyAdd(wd.AsSpan(o * inF, inF), dyd[r * outF + o], dst, dst);
            });
        }
        var dw = HostMemory.Allocate([outF, inF]);
        var dwd = dw.Data;
        Team.For(outF, o =>
        {
            var dst = dwd.AsSpan(o * inF, inF);
            dst.Clear();
            for (int r = 0; r < n; r++) TensorPrimitives.MultiplyAdd(xd.AsSpan(r * inF, inF), dyd[r * outF + o], dst, dst);
        });
        if (biasGradient)
        {
            db = HostMemory.Allocate([outF]);
            for (int o = 0; o < outF; o++)
            {
                double acc = 0;
                for (int r = 0; r < n; r++) acc += dyd[r * outF + o];
                db.Data[o] = (float)acc;
            }
        }
        return new LayerGradients(dx, dw, db);
    }
}
