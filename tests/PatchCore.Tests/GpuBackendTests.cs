using PatchCore.Backends;
using PatchCore.Backends.Reference;
using PatchCore.Gpu;

namespace PatchCore.Tests;

/// <summary>One ILGPU CPU accelerator for the whole class: creating it compiles every kernel.</summary>
public sealed class CpuAcceleratorFixture : IDisposable
{
    public GpuBackend Backend { get; } = GpuBackend.Create(GpuDeviceKind.Cpu);
    public void Dispose() => Backend.Dispose();
}

/// <summary>
/// The test classes that use ILGPU's CPU accelerator share one (its kernels compile once) and run alone, after
/// every other collection (DisableParallelization): side by side with the rest of the suite they gave an
/// intermittent, wholly wrong GEMM result (relative error 1.0: "conv3x3 residual relu" in session 6, "pairwise
/// distances" twice in session 8, fixed seeds, never when the classes ran alone). ILGPU's CPU runtime keeps
/// process-wide state for the running kernel (its PR #458 forbids concurrent CPU kernels), and the CLI tests around
/// them that take the default backend create ILGPU contexts of their own while probing for a GPU.
/// </summary>
[CollectionDefinition("ilgpu cpu accelerator", DisableParallelization = true)]
public sealed class IlgpuCpuAcceleratorCollection : ICollectionFixture<CpuAcceleratorFixture>;

/// <summary>
/// Every ILGPU kernel against the reference backend on fresh random inputs, run on ILGPU's CPU accelerator
/// (which simulates each GPU thread, about 5 µs apiece: tiny shapes only, but chosen to cross the 64x64 GEMM
/// tile borders and the 16-wide k slices). Outputs are NaN-poisoned first; NaN fails; fp32 tolerance 1e-4
/// relative to max|ref|; coreset selections must be identical.
/// </summary>
[Collection("ilgpu cpu accelerator")]
public class GpuBackendTests(CpuAcceleratorFixture fixture)
{
    readonly GpuBackend _gpu = fixture.Backend;

    public static TheoryData<string> Ops()
    {
        var d = new TheoryData<string>();
        foreach (var op in BackendSelfCheck.OpNames) d.Add(op);
        return d;
    }

    [Theory]
    [MemberData(nameof(Ops))]
    public void OpMatchesReference(string op)
    {
        using var reference = new ReferenceBackend();
        var row = BackendSelfCheck.RunOne(_gpu, reference, op, SelfCheckSize.Tiny, seed: 3);
        // Only while the reference op is still a stub (the gpu backend has none): nothing to compare with.
        Assert.True(row.Pass, row.ToString());
    }

    /// <summary>The whole-run criterion (<see cref="WholeRunComparison"/>) on the CPU accelerator.</summary>
    [Fact]
    public void WholeRunGivesTheCpuBackendsScores() => WholeRunComparison.AssertMatchesCpu(_gpu);

    [Fact]
    public void NearestNeighboursChunkedOverQueriesAndDatabase()
    {
        // Force 16-query x 12-row tiles so the running top-k is carried across database chunks and query chunks.
        var rng = new Random(11);
        int m = 37, n = 50, d = 9, k = 4;
        var q = Random(rng, m * d);
        var x = Random(rng, n * d);
        x.AsSpan(0, d).CopyTo(x.AsSpan(30 * d, d)); // exact duplicate rows 0 and 30: ties must keep row 0 first
        x.AsSpan(0, d).CopyTo(q.AsSpan(5 * d, d)); // query 5 sits exactly on rows 0 and 30
        int budget = _gpu.NnTileBudget, qmax = _gpu.NnQueryChunkMax;
        _gpu.NnTileBudget = 16 * 12;
        _gpu.NnQueryChunkMax = 16;
        try
        {
            var (gd, gi) = Knn(_gpu, q, x, m, n, d, k);
            using var reference = new ReferenceBackend();
            var (rd, ri) = Knn(reference, q, x, m, n, d, k);
            Assert.Equal(ri, gi);
            Assert.True(BackendSelfCheck.Error(gd, rd) <= 1e-4, $"distance error {BackendSelfCheck.Error(gd, rd):E2}");
            Assert.Equal(0, gi[5 * k]);
            Assert.Equal(30, gi[5 * k + 1]);
        }
        finally
        {
            _gpu.NnTileBudget = budget;
            _gpu.NnQueryChunkMax = qmax;
        }
    }

    [Fact]
    public void PoisoningMakesUnwrittenElementsNaN()
    {
        // Guards the harness itself: if poisoning silently stopped working, the op tests could not catch
        // elements a kernel never writes.
        _gpu.PoisonAllocations = true;
        try
        {
            using var t = _gpu.Allocate(3, 5);
            var v = new float[15];
            _gpu.Download(t, v);
            Assert.All(v, f => Assert.True(float.IsNaN(f)));
        }
        finally { _gpu.PoisonAllocations = false; }
    }

    [Fact]
    public void UploadDownloadRoundTripsAndRejectsWrongLength()
    {
        var data = Random(new Random(2), 24);
        using var t = _gpu.Upload(data, 2, 3, 4);
        var back = new float[24];
        _gpu.Download(t, back);
        Assert.Equal(data, back);
        Assert.Throws<ArgumentException>(() => _gpu.Upload(data, 5, 5));
        using var cpuTensor = new ReferenceBackend().Upload(data, 24);
        Assert.Throws<ArgumentException>(() => _gpu.Download(cpuTensor, back));
    }

    [Fact]
    public void DescriptionNamesTheAccelerator()
    {
        Assert.Equal("gpu", _gpu.Name);
        Assert.Contains("CPU", _gpu.Description);
        Assert.Contains("GiB", _gpu.Description);
    }

    [Fact]
    public void TryCreateWithoutCpuReportsOneLineReason()
    {
        if (GpuBackend.TryCreate(allowCpuAccelerator: false, out var backend, out string reason))
        {
            // A real GPU is present (the lead's GPU machine): then it must be CUDA or OpenCL.
            using (backend) Assert.NotEqual(ILGPU.Runtime.AcceleratorType.CPU, backend!.AcceleratorType);
            return;
        }
        Assert.Null(backend);
        Assert.Contains("Cuda", reason);
        Assert.Contains("OpenCL", reason);
        Assert.DoesNotContain('\n', reason);
    }

    [Fact]
    public void KernelBenchCoversEveryOp() => BenchKernelsTests.AssertCoversEveryOp(_gpu);

    static (float[], int[]) Knn(IBackend b, float[] q, float[] x, int m, int n, int d, int k)
    {
        var dist = new float[m * k];
        var idx = new int[m * k];
        Array.Fill(dist, float.NaN);
        Array.Fill(idx, -1);
        using var qt = b.Upload(q, m, d);
        using var xt = b.Upload(x, n, d);
        b.NearestNeighbours(qt, xt, k, dist, idx);
        return (dist, idx);
    }

    static float[] Random(Random rng, int n)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(rng.NextDouble() * 2 - 1);
        return v;
    }
}

/// <summary>Every kernel compiles to PTX for sm_90 (no GPU needed; ptxas itself runs only on a CUDA machine).</summary>
public class GpuPtxCompileTests
{
    [Fact]
    public void EveryKernelCompilesToPtx()
    {
        var kernels = PtxCompileCheck.CompileAll();
        Assert.True(kernels.Count >= 20, $"only {kernels.Count} kernels found");
        Assert.All(kernels, k => Assert.True(k.PtxChars > 100, k.Kernel));
    }
}
