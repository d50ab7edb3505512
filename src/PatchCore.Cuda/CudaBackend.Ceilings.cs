using PatchCore.Backends;

namespace PatchCore.Cuda;

/// <summary>
/// The device's ceilings for `bench kernels`: cuMemcpyDtoD bandwidth (bytes read + written) and cuBLAS SGEMM at
/// n³ with fp32 and with TF32 math, each the median of cuEvent-timed runs after a warm-up.
/// </summary>
public sealed partial class CudaBackend : IMachineCeilings
{
    public MachineCeilings MeasureCeilings(bool small)
    {
        const int repeats = 5;
        int copyFloats = small ? 8 << 20 : 256 << 20; // 32 MiB or 1 GiB
        double bandwidth;
        using (var src = Allocate(copyFloats))
        using (var dst = Allocate(copyFloats))
        {
            Fill(src, 1f);
            double ms = TimeMs(() => Copy(src, dst), repeats);
            bandwidth = 2.0 * copyFloats * 4 / (ms * 1e-3) / 1e9;
        }
        int n = small ? 512 : 8192;
        double fp32, tf32;
        using (var a = Allocate(n, n))
        using (var b = Allocate(n, n))
        using (var c = Allocate(n, n))
        {
            Fill(a, 0.5f);
            Fill(b, 0.25f);
            double flop = 2.0 * n * n * n;
            fp32 = flop / (TimeMs(() => SquareGemm(a, b, c, n, false), repeats) * 1e-3) / 1e9;
            tf32 = flop / (TimeMs(() => SquareGemm(a, b, c, n, true), repeats) * 1e-3) / 1e9;
        }
        return new MachineCeilings(bandwidth, $"cuMemcpyDtoD {copyFloats * 4L >> 20} MiB",
            fp32, $"cuBLAS SGEMM {n}^3", tf32, $"cuBLAS SGEMM TF32 {n}^3");
    }
}
