using System.Diagnostics;
using ILGPU;
using ILGPU.Runtime;
using PatchCore.Backends;

namespace PatchCore.Gpu;

/// <summary>
/// The device's memory ceiling for `bench kernels`: an accelerator copy between two buffers (bytes read +
/// written), the median of synchronised runs after a warm-up. ILGPU brings no vendor GEMM, so there is no FLOP
/// ceiling (the cuda backend measures cuBLAS on the same device).
/// </summary>
public sealed partial class GpuBackend : IMachineCeilings
{
    public MachineCeilings MeasureCeilings(bool small)
    {
        long floats = small ? 8L << 20 : 256L << 20; // 32 MiB or 1 GiB
        using var src = _accelerator.Allocate1D<float>(floats);
        using var dst = _accelerator.Allocate1D<float>(floats);
        src.MemSetToZero();
        var times = new double[5];
        src.View.CopyTo(dst.View); // warm-up
        _accelerator.Synchronize();
        for (int i = 0; i < times.Length; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            src.View.CopyTo(dst.View);
            _accelerator.Synchronize();
            times[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        Array.Sort(times);
        return new MachineCeilings(2.0 * floats * 4 / times[times.Length / 2] / 1e9, $"ILGPU device copy {floats * 4 >> 20} MiB", null, null);
    }
}
