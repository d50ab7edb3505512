using PatchCore.Cuda;

namespace PatchCore.Tests;

/// <summary>
/// Each CUDA op against the reference backend (BackendSelfCheck: fresh random inputs, NaN-poisoned outputs, rel.
/// error ≤ 1e-4 fp32 / 5e-3 TF32 convolutions, coreset selections identical). Skips with TryCreate's reason where
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

    public static TheoryData<string> Ops => new(BackendSelfCheck.Names);

    [Theory]
    [MemberData(nameof(Ops))]
    public void OpMatchesReference(string op)
    {
        var b = Backend();
        lock (b)
        {
            var r = BackendSelfCheck.Run(b, op, tf32: false, seed: 4321 + Array.IndexOf(BackendSelfCheck.Names, op));
            Assert.True(r.Pass, $"{r.Name}: rel. error {r.RelError:E2} > {r.Tolerance:E0} {r.Detail}");
        }
    }

    [Theory]
    [InlineData("conv3x3+residual+relu")]
    [InlineData("conv7x7/s2 asym pad")]
    [InlineData("conv1x1")]
    public void Tf32ConvolutionsWithinTf32Tolerance(string op)
    {
        var b = Backend();
        lock (b)
        {
            b.AllowTf32 = true;
            try
            {
                var r = BackendSelfCheck.Run(b, op, tf32: true, seed: 99);
                Assert.True(r.Pass, $"{r.Name}: rel. error {r.RelError:E2} > {r.Tolerance:E0} {r.Detail}");
            }
            finally { b.AllowTf32 = false; }
        }
    }

    [Fact]
    public void DescriptionNamesTheDevice()
    {
        var b = Backend();
        Assert.Contains("CUDA:", b.Description);
        Assert.Contains(b.DeviceName, b.Description);
        Assert.True(b.FreeMemory() > 0);
    }
}
