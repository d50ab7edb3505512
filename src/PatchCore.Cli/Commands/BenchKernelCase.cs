using PatchCore.Backends;

namespace PatchCore.Cli.Commands;

/// <summary>
/// One timed call of `bench kernels`: an op at one shape. <see cref="Prepare"/> uploads the inputs once and gives
/// the launch to time; the launch returns the op's output tensor (or null when the op fills host arrays) so the
/// harness can free it outside the timed span. The rate is GFLOP/s when <see cref="Flops"/> is set (2 per
/// multiply-add), images/s when <see cref="Images"/> is, else GB/s of compulsory traffic: every input read once and
/// the output written once (<see cref="Bytes"/> overrides that, e.g. the coreset's pass per selection).
/// </summary>
public sealed record BenchKernelCase(string Op, string Shape, Func<IBackend, BenchKernelCase.Inputs> Prepare)
{
    /// <summary>Floating-point operations of one call; 0 for memory-bound ops.</summary>
    public double Flops { get; init; }
    /// <summary>Images per call, for a whole-network row (rate in img/s).</summary>
    public int Images { get; init; }
    /// <summary>Bytes moved per call for the given variant, when not inputs + output.</summary>
    public Func<string, double>? Bytes { get; init; }
    /// <summary>The op whose variants this case runs under (the backbone runs under Conv2d's).</summary>
    public string? VariantsOf { get; init; }
    /// <summary>One timed call, no warm-up: the call is itself thousands of steps (the coreset).</summary>
    public bool SingleRun { get; init; }
    /// <summary>Whether the rate is bounded by the host link rather than the device (upload, download).</summary>
    public bool HostLink { get; init; }

    /// <summary>What a prepared case holds: the launch, the input size in floats, and what to free afterwards.</summary>
    public sealed class Inputs(Func<DeviceTensor?> launch, long inputFloats, params IDisposable?[] owned) : IDisposable
    {
        public Func<DeviceTensor?> Launch { get; } = launch;
        public long InputFloats { get; } = inputFloats;

        public void Dispose()
        {
            foreach (var o in owned) o?.Dispose();
        }
    }
}
