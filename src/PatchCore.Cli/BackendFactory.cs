using PatchCore.Backends;
using PatchCore.Backends.Cpu;
using PatchCore.Backends.Reference;
using PatchCore.Cuda;
using PatchCore.Gpu;

namespace PatchCore.Cli;

/// <summary>
/// The one place that names concrete backends. `auto` takes cuda, then gpu (ILGPU) on a CUDA device, then cpu,
/// and says which and why (on stderr, so stdout stays clean for results). An explicit cuda or gpu that cannot
/// start says why in one line and falls back to cpu; it never surfaces a raw CUDA error code.
/// PCNATIVE_CUDA_LIBRARY_DIR: take libcuda, libnvrtc and libcublas from that folder only (for instance the tests'
/// CUDA emulator, tests/CudaEmulator, to try the cuda code paths of a command on a machine without a GPU).
/// </summary>
public static class BackendFactory
{
    public sealed record Options(string Name = "auto", int Threads = 0, bool AllowTf32 = false);

    static string? CudaLibraryDir => Environment.GetEnvironmentVariable("PCNATIVE_CUDA_LIBRARY_DIR") is { Length: > 0 } d ? d : null;

    static bool TryCreateCuda(bool allowTf32, out CudaBackend? backend, out string reason) =>
        CudaBackend.TryCreate(allowTf32, out backend, out reason, CudaLibraryDir);

    public static IBackend Create(Options o)
    {
        switch (o.Name.ToLowerInvariant())
        {
            case "reference": return new ReferenceBackend();
            case "cpu": return new CpuBackend(o.Threads);
            case "cuda":
                if (TryCreateCuda(o.AllowTf32, out var cuda, out var why)) return Announce(cuda!, "asked for");
                return FallBack(o, $"cuda unavailable: {why}");
            case "gpu":
                if (TryCreateGpu(GpuDeviceKind.Auto, out var gpu, out var whyGpu)) return Announce(gpu!, "asked for");
                return FallBack(o, $"gpu unavailable: {whyGpu}");
            case "auto":
                if (TryCreateCuda(o.AllowTf32, out var c, out var whyCuda)) return Announce(c!, "auto: CUDA device found");
                Console.Error.WriteLine($"backend: cuda unavailable: {whyCuda}");
                if (TryCreateGpu(GpuDeviceKind.Cuda, out var g, out var whyG)) return Announce(g!, "auto: ILGPU on a CUDA device");
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

    /// <summary>ILGPU backend: CUDA, else OpenCL for an explicit `gpu`; CUDA only for `auto`. One-line reason when none.</summary>
    public static bool TryCreateGpu(GpuDeviceKind kind, out IBackend? backend, out string reason)
    {
        backend = null;
        if (kind == GpuDeviceKind.Auto)
        {
            bool ok = GpuBackend.TryCreate(allowCpuAccelerator: false, out var g, out reason);
            backend = g;
            return ok;
        }
        try
        {
            backend = GpuBackend.Create(kind);
            reason = "";
            return true;
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or DllNotFoundException)
        {
            reason = e.Message.Split('\n')[0];
            return false;
        }
    }
}
