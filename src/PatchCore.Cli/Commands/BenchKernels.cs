using System.Diagnostics;
using System.Text.Json;
using PatchCore.Backends;
using PatchCore.Backends.Reference;
using PatchCore.Weights;

namespace PatchCore.Cli.Commands;

/// <summary>
/// `pcnative bench kernels [--backend cpu|reference|gpu|cuda] [--quick] [--repeats N] [--tf32] [--json F] [--check]`:
/// one table for every backend, every op of <see cref="IBackend"/> under each of its kernel variants
/// (<see cref="BenchKernelHarness"/>): op, shape, backend, variant, median time, achieved rate and the machine's
/// ceiling for it (<see cref="BenchCeilings"/>). Sizes: a real run's on a GPU, smaller on the cpu, the quick ones on
/// the reference (its plain loops would take hours at a run's sizes) and with --quick. The backbone row needs the
/// weight file (--weights, default weights/resnet18-cntk.safetensors). `--check` instead compares every op with the
/// reference backend and exits non-zero on a FAIL.
/// </summary>
public static class BenchKernels
{
    public static int Run(BenchCommand o)
    {
        using var backend = BackendFactory.Create(new BackendFactory.Options(o.Backend, o.Threads, o.Tf32));
        string wanted = o.Backend.ToLowerInvariant();
        if (wanted is "cuda" or "gpu" && backend.Name != wanted)
        {
            Console.WriteLine($"FAIL: backend {wanted} did not start (see the line above); nothing measured on it");
            return 1;
        }
        Console.WriteLine($"backend: {backend.Description}");
        if (o.Check) return Check(backend, o.Tf32);

        bool device = backend is IMachineCeilings;
        var sizes = o.Quick || backend.Name == "reference" ? BenchKernelSizes.Quick : device ? BenchKernelSizes.Device : BenchKernelSizes.Host;
        int repeats = o.Repeats > 0 ? o.Repeats : o.Quick ? 3 : device ? 10 : 5;
        int hostThreads = backend.Name == "reference" ? 1 : o.Threads > 0 ? o.Threads : Environment.ProcessorCount;
        var ceilings = BenchCeilings.Measure(backend, hostThreads, small: o.Quick);
        Console.WriteLine($"ceilings: memory {ceilings.MemoryGBps:F0} GB/s ({ceilings.MemoryHow})" +
            (ceilings.Fp32GFlops is { } f ? $", fp32 {f:F0} GFLOP/s ({ceilings.Fp32How})" : ", no FLOP ceiling") +
            (ceilings.Tf32GFlops is { } t ? $", tf32 {t:F0} GFLOP/s ({ceilings.Tf32How})" : ""));
        Console.WriteLine($"sizes: {sizes.Name}; median of {repeats} after 1 warm-up (the coreset: one run)");

        var weights = sizes.BackboneBatch > 0 ? LoadWeights(o.Weights) : null;

        Console.WriteLine(BenchKernelRow.Header);
        var sw = Stopwatch.StartNew();
        var rows = BenchKernelHarness.Measure(backend, sizes, ceilings, repeats, weights, r => Console.WriteLine(r));
        Console.WriteLine($"{rows.Count} rows in {sw.Elapsed.TotalSeconds:F1} s");
        if (o.Json != null) WriteJson(o.Json, backend.Description, sizes.Name, repeats, ceilings, rows);
        return 0;
    }

    /// <summary>The backbone row's weights: --weights must exist; the default file may be missing (row skipped).</summary>
    static WeightFile? LoadWeights(string? given)
    {
        string path = WeightLocator.Find(given ?? Path.Combine("weights", "resnet18-cntk.safetensors"));
        if (File.Exists(path)) return WeightFile.Load(path);
        if (given != null) throw new UserError($"bench: weight file '{path}' not found");
        Console.WriteLine($"{BenchKernelCases.BackboneOp}: skipped ({path} not found)");
        return null;
    }

    static int Check(IBackend backend, bool tf32)
    {
        var sw = Stopwatch.StartNew();
        using var reference = new ReferenceBackend();
        var rows = BackendSelfCheck.Run(backend, reference, SelfCheckSize.Moderate, tf32: tf32);
        Console.WriteLine($"{"op",-28} {"shape",-40} {"rel.err",10} {"tol",8} result");
        foreach (var r in rows) Console.WriteLine(r);
        int fails = 0;
        foreach (var r in rows) if (!r.Pass) fails++;
        Console.WriteLine($"check {backend.Name}{(tf32 ? " tf32" : "")}: {rows.Count - fails}/{rows.Count} PASS in {sw.Elapsed.TotalSeconds:F1} s");
        return fails == 0 ? 0 : 1;
    }

    static void WriteJson(string path, string description, string sizes, int repeats, MachineCeilings ceilings, List<BenchKernelRow> rows)
    {
        var options = new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        var tmp = path + ".tmp";
        var c = new
        {
            memory_gb_per_s = ceilings.MemoryGBps, memory = ceilings.MemoryHow,
            fp32_gflop_per_s = ceilings.Fp32GFlops, fp32 = ceilings.Fp32How,
            tf32_gflop_per_s = ceilings.Tf32GFlops, tf32 = ceilings.Tf32How,
        };
        File.WriteAllText(tmp, JsonSerializer.Serialize(new { backend = description, sizes, repeats, ceilings = c, rows }, options));
        File.Move(tmp, path, overwrite: true);
    }
}
