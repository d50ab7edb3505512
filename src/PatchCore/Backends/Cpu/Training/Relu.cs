using static PatchCore.Backends.TrainingContracts;
using System.Runtime.Intrinsics;

namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>dx = dy where y &gt; 0 else 0: a SIMD mask (y &gt; 0) ANDed with dy, elementwise (no reductions,
    /// so any split is deterministic).</summary>
    public DeviceTensor ReluBackward(DeviceTensor dy, DeviceTensor y)
    {
        RequireShape(dy, "ReLU output gradient", y.Shape);
        float[] dyd = HostMemory.AsHost(dy).Data, yd = HostMemory.AsHost(y).Data;
        var dx = HostMemory.Rent(y.Shape); // pooled: every element written
        var dxd = dx.Data;
        int length = (int)y.Length, i = 0;
        for (; i <= length - Vector256<float>.Count; i += Vector256<float>.Count)
        {
            var mask = Vector256.GreaterThan(Vector256.Create(yd, i), Vector256<float>.Zero);
            (Vector256.Create(dyd, i) & mask).CopyTo(dxd, i);
        }
        for (; i < length; i++) dxd[i] = yd[i] > 0 ? dyd[i] : 0;
        return dx;
    }
}
