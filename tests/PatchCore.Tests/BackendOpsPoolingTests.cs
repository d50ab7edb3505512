using PatchCore.Backends;
using PatchCore.Backends.Cpu;
using PatchCore.Backends.Reference;
using static PatchCore.Tests.BackendOpsTestKit;

namespace PatchCore.Tests;

/// <summary>Fast CPU pooling and elementwise ops against the reference (1e-4 relative, NaN-poisoned outputs),
/// plus hand-computed cases pinning the padding conventions of the reference itself.</summary>
public class BackendOpsPoolingTests
{
    public static TheoryData<int, int, int, int, int, int, int, int> PoolCases => new()
    {
        // kernel, stride, pads t,l,b,r, h, w
        { 3, 2, 1, 1, 1, 1, 112, 112 }, // torchvision max-pool
        { 3, 2, 1, 1, 0, 0, 17, 15 },   // CNTK max-pool pads, odd sizes
        { 3, 1, 1, 1, 1, 1, 7, 9 },     // the 3x3 aggregation pool
        { 2, 2, 0, 1, 1, 0, 10, 11 },
    };

    [Theory]
    [MemberData(nameof(PoolCases))]
    public void PoolingMatchesReference(int k, int s, int pt, int pl, int pb, int pr, int h, int w)
    {
        var pool = new PoolSpec(k, s, pt, pl, pb, pr);
        var rng = new Random(h * 31 + w);
        var x = RandomData(rng, 2L * 5 * h * w, 3);
        using var reference = new ReferenceBackend();
        using var cpu = new CpuBackend(2);
        foreach (bool max in new[] { true, false })
        {
            float[] Run(IBackend b) => Poisoned(() =>
            {
                using var xt = b.Upload(x, 2, 5, h, w);
                using var y = max ? b.MaxPool2d(xt, pool) : b.AvgPool2d(xt, pool);
                Assert.Equal([2, 5, pool.OutH(h), pool.OutW(w)], y.Shape);
                return Read(b, y);
            });
            AssertClose(Run(cpu), Run(reference), 1e-4, $"{(max ? "max" : "avg")} pool {pool}");
        }
    }

    [Fact]
    public void ReferencePoolingPaddingConventions()
    {
        // 2x2 image, 3x3 window, pad 1: every window covers the whole image plus padding.
        using var reference = new ReferenceBackend();
        using var x = reference.Upload([-1f, -2f, -3f, -4f], 1, 1, 2, 2);
        var pool = new PoolSpec(3, 1, 1, 1, 1, 1);
        using var mx = reference.MaxPool2d(x, pool);
        using var av = reference.AvgPool2d(x, pool);
        // Max ignores padded cells (else it would be 0); average divides by 9 (padded cells count as zeros).
        Assert.Equal([-1f, -1f, -1f, -1f], Read(reference, mx));
        Assert.Equal(Enumerable.Repeat(-10f / 9f, 4).ToArray(), Read(reference, av));
    }

    [Fact]
    public void GlobalAvgPoolReluAddMatchReference()
    {
        var rng = new Random(3);
        var a = RandomData(rng, 3L * 7 * 5 * 6, 2);
        var b = RandomData(rng, a.Length, 2);
        using var reference = new ReferenceBackend();
        using var cpu = new CpuBackend(2);
        float[] Op(IBackend be, string op) => Poisoned(() =>
        {
            using var at = be.Upload(a, 3, 7, 5, 6);
            using var bt = be.Upload(b, 3, 7, 5, 6);
            using var y = op switch { "gap" => be.GlobalAvgPool(at), "relu" => be.Relu(at), _ => be.Add(at, bt) };
            return Read(be, y);
        });
        foreach (var op in new[] { "gap", "relu", "add" })
            AssertClose(Op(cpu, op), Op(reference, op), 1e-6, op);
        Assert.Equal(21, Op(reference, "gap").Length);
        // The reference itself, by hand on the first plane.
        Assert.Equal(a.Take(30).Average(v => (double)v), Op(reference, "gap")[0], 5);
    }
}
