using System.Reflection;
using PatchCore.Backends;
using PatchCore.Backends.Cpu;
using PatchCore.Backends.Reference;
using PatchCore.Cuda;

namespace PatchCore.Cli;

/// <summary>
/// The one place that names concrete backends. `auto` takes cuda, then gpu (ILGPU) on a CUDA device, then cpu,
/// and says which and why (on stderr, so stdout stays clean for results). An explicit cuda or gpu that cannot
/// start says why in one line and falls back to cpu; it never surfaces a raw CUDA error code.
/// </summary>
public static class BackendFactory
{
    public sealed record Options(string Name = "auto", int Threads = 0, bool AllowTf32 = false);

    public static IBackend Create(Options o)
    {
        switch (o.Name.ToLowerInvariant())
        {
            case "reference": return new ReferenceBackend();
            case "cpu": return new CpuBackend(o.Threads);
            case "cuda":
                if (CudaBackend.TryCreate(o.AllowTf32, out var cuda, out var why)) return Announce(cuda!, "asked for");
                return FallBack(o, $"cuda unavailable: {why}");
            case "gpu":
                if (TryCreateGpu(out var gpu, out var whyGpu)) return Announce(gpu!, "asked for");
                return FallBack(o, $"gpu unavailable: {whyGpu}");
            case "auto":
                if (CudaBackend.TryCreate(o.AllowTf32, out var c, out var whyCuda)) return Announce(c!, "auto: CUDA device found");
                Console.Error.WriteLine($"backend: cuda unavailable: {whyCuda}");
                if (TryCreateGpu(out var g, out var whyG)) return Announce(g!, "auto: ILGPU on a CUDA device");
                Console.Error.WriteLine($"backend: gpu unavailable: {whyG}");
                return Announce(new CpuBackend(o.Threads), "auto: no usable GPU");
            default:
                throw new UserError($"unknown backend '{o.Name}' (auto, cpu, reference, gpu, cuda)");
        }
    }

    static IBackend Announce(IBackend b, string why)
    {
        Console.Error.WriteLine($"backend: {b.Name} ({why}; {b.Description})");
        return b;
    }

    static IBackend FallBack(Options o, string why)
    {
        Console.Error.WriteLine($"backend: {why}; falling back to cpu");
        return Announce(new CpuBackend(o.Threads), "fallback");
    }

    /// <summary>
    /// ILGPU backend on a CUDA device: PatchCore.Gpu.GpuBackend.TryCreate(bool allowCpuAccelerator, out GpuBackend?,
    /// out string), looked up by name so this file builds whether or not that backend has landed yet.
    /// </summary>
    public static bool TryCreateGpu(out IBackend? backend, out string reason)
    {
        backend = null;
        var type = Type.GetType("PatchCore.Gpu.GpuBackend, PatchCore.Gpu");
        var m = type?.GetMethod("TryCreate", BindingFlags.Public | BindingFlags.Static, [typeof(bool), type.MakeByRefType(), typeof(string).MakeByRefType()]);
        if (m == null) { reason = "ILGPU backend not built into this binary"; return false; }
        var args = new object?[] { false, null, null };
        try
        {
            bool ok = (bool)m.Invoke(null, args)!;
            reason = args[2] as string ?? "";
            backend = ok ? args[1] as IBackend : null;
            return ok && backend != null;
        }
        catch (TargetInvocationException e)
        {
            reason = (e.InnerException ?? e).Message.Split('\n')[0];
            return false;
        }
    }
}
