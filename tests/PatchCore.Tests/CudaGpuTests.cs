using PatchCore.Backends;
using PatchCore.Backends.Reference;
using PatchCore.Cuda;

namespace PatchCore.Tests;

/// <summary>
/// Each CUDA op against the reference backend (BackendSelfCheck at Moderate size: fresh random inputs, NaN-poisoned
/// outputs, rel. error ≤ 1e-4 fp32 / 5e-3 TF32 convolutions, coreset selections identical, fp16 storage included). Skips with TryCreate's reason where
/// there is no GPU (CI); on the device machine they run.
/// </summary>
public class CudaGpuTests
{
    static readonly Lazy<(CudaBackend? Backend, string Reason)> Shared = new(() =>
        CudaBackend.TryCreate(false, out var b, out var r) ? (b, "") : (null, r));

    static CudaBackend Backend()
    {
        var (b, reason) = Shared.Value;
        if (b == null) Assert.Skip($"no CUDA backend: {reason}");
        return b!;
    }

    public static TheoryData<string> Ops => new(BackendSelfCheck.OpNames);
    public static TheoryData<string> ConvOps => new(BackendSelfCheck.ConvOpNames);

    [Theory]
    [MemberData(nameof(Ops))]
    public void OpMatchesReference(string op) => CudaChecks.OpMatchesReference(Backend(), op, SelfCheckSize.Moderate, seed: 4321);

    [Fact]
    public void WholeRunGivesTheCpuBackendsScores()
    {
        var b = Backend();
        lock (b) WholeRunComparison.AssertMatchesCpu(b);
    }

    [Theory]
    [MemberData(nameof(ConvOps))]
    public void Tf32ConvolutionsWithinTf32Tolerance(string op) => CudaChecks.Tf32ConvolutionWithinTolerance(Backend(), op, SelfCheckSize.Moderate, seed: 99);

    [Fact]
    public void DescriptionNamesTheDevice()
    {
        var b = Backend();
        Assert.Contains("CUDA:", b.Description);
        Assert.Contains(b.DeviceName, b.Description);
        Assert.True(b.FreeMemory() > 0);
    }
}

/// <summary>The op checks that the CUDA classes share (a real GPU in CudaGpuTests, the emulator in CudaEmulatorTests).
/// The backend is locked: its stream and primary context are one per process.</summary>
public static class CudaChecks
{
    public static void OpMatchesReference(CudaBackend b, string op, SelfCheckSize size, int seed)
    {
        lock (b)
        {
            using var reference = new ReferenceBackend();
            var r = BackendSelfCheck.RunOne(b, reference, op, size, seed);
            Assert.True(r.Pass, r.ToString());
        }
    }

    public static void Tf32ConvolutionWithinTolerance(CudaBackend b, string op, SelfCheckSize size, int seed)
    {
        lock (b)
        {
            b.AllowTf32 = true;
            try
            {
                using var reference = new ReferenceBackend();
                var r = BackendSelfCheck.RunOne(b, reference, op, size, seed, tf32: true);
                Assert.True(r.Pass, r.ToString());
            }
            finally { b.AllowTf32 = false; }
        }
    }
}
