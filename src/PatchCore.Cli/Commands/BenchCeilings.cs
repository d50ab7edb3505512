using System.Diagnostics;
using PatchCore.Backends;

namespace PatchCore.Cli.Commands;

/// <summary>
/// The ceilings `bench kernels` compares with: a GPU backend measures its device's (<see cref="IMachineCeilings"/>:
/// device copy, vendor GEMM); for a host backend this measures the CPU's: the FMA peak (<see cref="FmaPeak"/>) with
/// the backend's threads, and the memory bandwidth of a parallel copy of two buffers far larger than the caches
/// (bytes read + written, best of five).
/// </summary>
public static class BenchCeilings
{
    public static MachineCeilings Measure(IBackend backend, int hostThreads, bool small) =>
        backend is IMachineCeilings device ? device.MeasureCeilings(small) : Host(hostThreads, small);

    public static MachineCeilings Host(int threads, bool small)
    {
        double flops = FmaPeak.Measure(threads, small ? 0.1 : 0.25);
        long floats = small ? 8L << 20 : 64L << 20; // 32 MiB or 256 MiB per buffer
        double gbs = CopyBandwidth(threads, floats);
        return new MachineCeilings(gbs, $"host copy {floats * 4 >> 20} MiB, {threads} thr",
            flops, $"FMA peak {FmaPeak.VectorName} {threads} thr");
    }

    static double CopyBandwidth(int threads, long floats)
    {
        var src = GC.AllocateUninitializedArray<float>((int)floats);
        var dst = GC.AllocateUninitializedArray<float>((int)floats);
        Array.Fill(src, 1f);
        Array.Fill(dst, 0f); // touch every page before timing
        long chunk = (floats + threads - 1) / threads;
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads };
        double best = double.MaxValue;
        for (int rep = 0; rep < 5; rep++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Parallel.For(0, threads, options, t =>
            {
                long start = t * chunk, len = Math.Min(chunk, floats - start);
                if (len > 0) src.AsSpan((int)start, (int)len).CopyTo(dst.AsSpan((int)start, (int)len));
            });
            best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        return 2.0 * floats * 4 / best / 1e9;
    }
}
