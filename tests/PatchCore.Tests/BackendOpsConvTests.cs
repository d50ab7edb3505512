using PatchCore.Backends;
using PatchCore.Backends.Cpu;
using PatchCore.Backends.Reference;
using static PatchCore.Tests.BackendOpsTestKit;

namespace PatchCore.Tests;

/// <summary>The fast CPU conv (packed SIMD GEMM) against the reference on fresh random inputs; tolerance 1e-4
/// relative (max|a−b| / max|ref|), outputs poisoned with NaN.</summary>
public class BackendOpsConvTests
{
    // n, cin, cout, k, stride, pads (t,l,b,r), h, w, residual, relu
    public static TheoryData<int, int, int, int, int, int[], int, int, bool, bool> Cases => new()
    {
        { 1, 3, 16, 7, 2, [3, 3, 2, 2], 37, 37, false, true },   // CNTK stem: asymmetric pads, odd size
        { 2, 16, 20, 3, 1, [1, 1, 1, 1], 13, 17, true, true },   // Cout not a multiple of 8, residual + relu
        { 3, 32, 40, 1, 1, [0, 0, 0, 0], 9, 11, false, false },  // 1x1 stride 1, batch 3
        { 1, 24, 16, 3, 2, [1, 1, 0, 0], 15, 15, false, true },  // stride-2 3x3 with CNTK pads
        { 2, 40, 16, 1, 2, [0, 0, 0, 0], 14, 14, true, false },  // downsample 1x1 stride 2 + residual
        { 1, 64, 36, 3, 1, [1, 1, 1, 1], 20, 20, true, true },   // K = 576: several k blocks
        { 1, 8, 8, 3, 1, [1, 2, 0, 1], 40, 41, false, true },    // many pixel panels, lopsided pads
        { 2, 5, 9, 5, 3, [2, 0, 1, 2], 23, 19, true, true },     // stride 3, 5x5, odd everything
        { 1, 4, 8, 3, 2, [1, 1, 0, 0], 9, 80, false, true },     // wide rows: the vector stride-2 run copy (pads make it the run path)
        { 1, 64, 16, 3, 1, [1, 1, 1, 1], 56, 56, true, true },   // 5 pixel blocks rounded up to 6 for 2 threads
        { 1, 24, 20, 3, 1, [1, 1, 1, 1], 14, 14, true, true },
        { 1, 3, 16, 7, 2, [3, 3, 2, 2], 38, 38, false, true },   // the stem at an even size: packed from the phase planes
        { 2, 24, 16, 3, 2, [1, 1, 0, 0], 16, 16, true, false },  // 3x3 /2 halving the image: phase planes, residual   // layer3-like at batch 1: 7 pixel panels, channels split, partial last panel
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ConvMatchesReference(int n, int cin, int cout, int k, int stride, int[] pads, int h, int w, bool residual, bool relu)
    {
        var spec = new ConvSpec(cin, cout, k, k, stride, pads[0], pads[1], pads[2], pads[3]);
        var rng = new Random(HashCode.Combine(n, cin, cout, k, stride, h, w));
        var weight = RandomData(rng, spec.WeightLength, Math.Sqrt(3.0 / (cin * k * k)));
        var bias = RandomData(rng, cout, 0.5);
        var xData = RandomData(rng, (long)n * cin * h * w);
        var rData = RandomData(rng, (long)n * cout * spec.OutH(h) * spec.OutW(w));

        using var reference = new ReferenceBackend();
        var expected = Run(reference, spec, weight, bias, xData, rData, n, h, w, residual, relu);
        foreach (bool v256 in new[] { false, true })
        foreach (int threads in new[] { 1, 2, 7 }) // 7: fewer pixel tiles than threads, so channels split too
        {
            using var cpu = new CpuBackend(threads);
            GemmKernel.ForceVector256 = v256;
            try
            {
                var actual = Poisoned(() => Run(cpu, spec, weight, bias, xData, rData, n, h, w, residual, relu));
                AssertClose(actual, expected, 1e-4, $"conv {spec} threads {threads} vector256 {v256}");
            }
            finally { GemmKernel.ForceVector256 = false; }
        }
    }

    [Fact]
    public void ConvWithManyKBlocksAndTinyKBlockSize()
    {
        // Force k blocks of 40 so partial sums go through C many times, including the edge tiles.
        var spec = new ConvSpec(12, 11, 3, 3, 1, 1, 1, 1, 1);
        var rng = new Random(5);
        var weight = RandomData(rng, spec.WeightLength, 0.2);
        var bias = RandomData(rng, 11);
        var x = RandomData(rng, 2 * 12 * 10 * 9);
        var r = RandomData(rng, 2 * 11 * 10 * 9);
        using var reference = new ReferenceBackend();
        var expected = Run(reference, spec, weight, bias, x, r, 2, 10, 9, true, true);
        int saved = CpuBackend.KcMax;
        CpuBackend.KcMax = 40;
        try
        {
            using var cpu = new CpuBackend(2);
            AssertClose(Poisoned(() => Run(cpu, spec, weight, bias, x, r, 2, 10, 9, true, true)), expected, 1e-4, "conv, k blocks of 40");
        }
        finally { CpuBackend.KcMax = saved; }
    }

    static float[] Run(IBackend b, ConvSpec spec, float[] weight, float[] bias, float[] x, float[] r, int n, int h, int w, bool residual, bool relu)
    {
        using var conv = b.CreateConv(spec, weight, bias);
        using var xt = b.Upload(x, n, spec.InChannels, h, w);
        using var rt = residual ? b.Upload(r, n, spec.OutChannels, spec.OutH(h), spec.OutW(w)) : null;
        using var y = b.Conv2d(xt, conv, rt, relu);
        Assert.Equal([n, spec.OutChannels, spec.OutH(h), spec.OutW(w)], y.Shape);
        return Read(b, y);
    }
}
