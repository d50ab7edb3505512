using PatchCore.Backends;
using PatchCore.Backends.Cpu;
using PatchCore.Backends.Reference;

namespace PatchCore.Tests;

/// <summary>The self-check harness itself, exercised in CI on the fast CPU backend at Tiny size (the GPU backends
/// run it in their own test classes where a device exists).</summary>
public class BackendSelfCheckTests
{
    [Fact]
    public void CpuBackendPassesEveryRowAtTinySize()
    {
        using var cpu = new CpuBackend(threads: 2);
        using var reference = new ReferenceBackend();
        var rows = BackendSelfCheck.Run(cpu, reference, SelfCheckSize.Tiny, seed: 7);
        Assert.Equal(BackendSelfCheck.OpNames, rows.Select(r => r.Op));
        var failed = rows.Where(r => !r.Pass).Select(r => r.ToString()).ToArray();
        Assert.True(failed.Length == 0, "failing rows:\n" + string.Join("\n", failed));
        // Poisoning is switched back off afterwards (it is per thread for the CPU backends).
        Assert.False(cpu.PoisonAllocations);
    }

    [Fact]
    public void ErrorTreatsUnwrittenNaNAndLengthMismatchAsInfinite()
    {
        Assert.Equal(0.5, BackendSelfCheck.Error([1f, 1f], [2f, 1f]));
        Assert.Equal(double.PositiveInfinity, BackendSelfCheck.Error([float.NaN, 1f], [2f, 1f]));
        Assert.Equal(double.PositiveInfinity, BackendSelfCheck.Error([1f], [2f, 1f]));
        Assert.Throws<ArgumentException>(() => BackendSelfCheck.RunOne(new CpuBackend(1), new ReferenceBackend(), "no such op"));
    }
}
