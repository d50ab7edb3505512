using PatchCore.Backends;
using PatchCore.Backends.Reference;
using PatchCore.Cli.Commands;
using PatchCore.Gpu;

namespace PatchCore.Tests;

/// <summary>The ILGPU backend on a real CUDA device, when there is one (the lead's GPU check); skipped with the
/// reason otherwise. Realistic sizes: conv 256→256 3x3 at 14x14 batch 4, k-NN 2000 queries x 500 rows x 1024
/// dims, coreset 20000 x 128, the stem conv at 224, anomaly maps 28→224.</summary>
public sealed class CudaDeviceFixture : IDisposable
{
    public GpuBackend? Backend { get; }
    public string Reason { get; } = "";

    public CudaDeviceFixture()
    {
        try { Backend = GpuBackend.Create(GpuDeviceKind.Cuda); }
        catch (InvalidOperationException e) { Reason = e.Message; }
    }

    public void Dispose() => Backend?.Dispose();
}

public class GpuCudaTests(CudaDeviceFixture fixture) : IClassFixture<CudaDeviceFixture>
{
    GpuBackend RequireCuda()
    {
        if (fixture.Backend is null) Assert.Skip("no CUDA device: " + fixture.Reason);
        return fixture.Backend!;
    }

    [Theory]
    [MemberData(nameof(GpuBackendTests.Ops), MemberType = typeof(GpuBackendTests))]
    public void OpMatchesReferenceAtRealisticSize(string op)
    {
        var gpu = RequireCuda();
        using var reference = new ReferenceBackend();
        var row = BackendSelfCheck.RunOne(gpu, reference, op, SelfCheckSize.Realistic, seed: 5);
        Assert.True(row.Pass, row.ToString());
    }

    [Fact]
    public void WholeRunGivesTheCpuBackendsScores() => WholeRunComparison.AssertMatchesCpu(RequireCuda());

    [Fact]
    public void KernelBenchRunsOnCuda()
    {
        var gpu = RequireCuda();
        var rows = BenchKernelHarness.Measure(gpu, BenchKernelSizes.Device, gpu.MeasureCeilings(small: true), repeats: 3);
        Assert.All(rows, r => Assert.True(r.MedianMs > 0 && double.IsFinite(r.Rate), r.ToString()));
        foreach (var r in rows) TestContext.Current.SendDiagnosticMessage(r.ToString());
    }
}
