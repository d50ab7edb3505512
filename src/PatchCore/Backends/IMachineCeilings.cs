namespace PatchCore.Backends;

/// <summary>
/// The best rates the device under a backend reaches, measured with its vendor's own routines (a device-to-device
/// copy, the vendor GEMM): what `pcnative bench kernels` divides an op's achieved rate by. Host backends have
/// none; the CLI measures the CPU's (FMA peak, memory copy) itself.
/// </summary>
public interface IMachineCeilings
{
    /// <summary>Measures now (a second or so on a GPU); <paramref name="small"/> uses smaller buffers.</summary>
    MachineCeilings MeasureCeilings(bool small);
}

/// <summary>Ceilings in GB/s and GFLOP/s, each with a line saying how it was measured; null where there is no
/// such ceiling (no vendor GEMM, no TF32 units).</summary>
public sealed record MachineCeilings(double MemoryGBps, string MemoryHow, double? Fp32GFlops, string? Fp32How,
    double? Tf32GFlops = null, string? Tf32How = null);
