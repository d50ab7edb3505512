using System.Diagnostics;
using PatchCore.Backends;
using PatchCore.Weights;

namespace PatchCore.Cli.Commands;

/// <summary>
/// The one kernel benchmark, for every backend alike, through <see cref="IBackend"/> only: each case of
/// <see cref="BenchKernelCases"/>, under each variant the backend offers for its op (<see cref="IKernelVariants"/>),
/// timed by the wall clock as the median of <c>repeats</c> calls after one warm-up call (calls under 50 µs in groups). Every timed call ends with
/// a one-element download, which waits for all work queued before it (both GPU backends queue on one stream), so
/// asynchronous backends are timed to completion; the output is freed after the clock stops. The time therefore
/// includes the output's allocation and the launch overheads, as a run sees them.
/// </summary>
public static class BenchKernelHarness
{
    public static List<BenchKernelRow> Measure(IBackend backend, BenchKernelSizes sizes, MachineCeilings ceilings, int repeats,
        WeightFile? weights = null, Action<BenchKernelRow>? onRow = null)
    {
        var rows = new List<BenchKernelRow>();
        var variants = backend as IKernelVariants;
        // A backend without device ceilings runs on the host: its transfers are memory copies, held to the memory ceiling.
        bool onHost = backend is not IMachineCeilings;
        using var sync = backend.Allocate(1);
        var syncHost = new float[1];
        foreach (var c in BenchKernelCases.For(sizes, weights))
        {
            using var inputs = c.Prepare(backend);
            IReadOnlyList<string> names = variants?.Variants(c.VariantsOf ?? c.Op) ?? [];
            foreach (string variant in names.Count == 0 ? ["default"] : names)
            {
                using var scope = names.Count == 0 ? null : variants!.SelectVariant(c.VariantsOf ?? c.Op, variant);
                var (ms, runs, outFloats) = Time(backend, inputs.Launch, sync, syncHost, c.SingleRun ? 0 : 1, c.SingleRun ? 1 : repeats);
                var row = ToRow(c, backend.Name, variant, ms, runs, inputs.InputFloats, outFloats, ceilings, onHost);
                rows.Add(row);
                onRow?.Invoke(row);
            }
        }
        return rows;
    }

    /// <summary>A call shorter than this is timed in groups of calls (outputs freed inside the group), so that
    /// the clock's granularity (a microsecond or so on a VM) does not turn a tiny op into 0 ms.</summary>
    const double MinSampleMs = 0.05;

    static (double Ms, int Runs, long OutFloats) Time(IBackend b, Func<DeviceTensor?> launch, DeviceTensor sync, float[] syncHost,
        int warmup, int repeats)
    {
        long outFloats = 0;
        int group = 1;
        for (int i = 0; i < warmup; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            var y = launch();
            b.Download(sync, syncHost);
            double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            outFloats = y?.Length ?? 0;
            y?.Dispose();
            if (ms < MinSampleMs) group = (int)Math.Min(1000, Math.Ceiling(MinSampleMs / Math.Max(ms, 1e-6)));
        }
        var times = new double[Math.Max(1, repeats)];
        for (int i = 0; i < times.Length; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int j = 1; j < group; j++)
            {
                launch()?.Dispose();
                b.Download(sync, syncHost);
            }
            var y = launch();
            b.Download(sync, syncHost);
            times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds / group;
            outFloats = y?.Length ?? 0;
            y?.Dispose();
        }
        Array.Sort(times);
        // Never 0: a single call (the coreset, no warm-up) below the clock's tick is reported as one tick.
        double median = Math.Max(times[times.Length / 2], 1e3 / Stopwatch.Frequency);
        return (median, times.Length * group, outFloats);
    }

    static BenchKernelRow ToRow(BenchKernelCase c, string backend, string variant, double ms, int runs, long inFloats, long outFloats,
        MachineCeilings ceil, bool onHost)
    {
        double s = ms * 1e-3;
        if (c.Images > 0)
            return new(c.Op, c.Shape, backend, variant, ms, runs, c.Images / s, "img/s", null, null);
        if (c.Flops > 0)
        {
            bool tf32 = variant == "tf32";
            double? peak = tf32 ? ceil.Tf32GFlops : ceil.Fp32GFlops;
            return new(c.Op, c.Shape, backend, variant, ms, runs, c.Flops / s / 1e9, "GFLOP/s", peak, tf32 ? ceil.Tf32How : ceil.Fp32How);
        }
        double bytes = c.Bytes?.Invoke(variant) ?? 4.0 * (inFloats + outFloats);
        bool bounded = !c.HostLink || onHost; // a device's host link (PCIe) has no measured ceiling
        return new(c.Op, c.Shape, backend, variant, ms, runs, bytes / s / 1e9, "GB/s",
            bounded ? ceil.MemoryGBps : null, bounded ? ceil.MemoryHow : null);
    }
}
