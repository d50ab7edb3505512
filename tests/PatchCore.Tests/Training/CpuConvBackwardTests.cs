using PatchCore.Backends;
using PatchCore.Backends.Cpu;
using PatchCore.Backends.Reference;
using static PatchCore.Tests.Training.GradientCheck;

namespace PatchCore.Tests.Training;

/// <summary>
/// The fast CPU conv backward (packed GEMM over im2col panels, col2im in the sink) against the reference in
/// float32: ≤ 1e-4 relative (max |a − r| / max |r| per gradient, as the forward ops' tests), outputs poisoned,
/// fresh random inputs. Shapes chosen for the GEMM's edges: channel counts not a multiple of 8, pixel counts
/// not a multiple of 32, more than 128 im2col rows (two A tiles of Wᵀ) and more than 128 output channels (two A
/// tiles of dY), a batch larger than the weight-gradient chunk count.
/// </summary>
public class CpuConvBackwardTests
{
    const double Tolerance = 1e-4;

    public static TheoryData<int, int, int, int, int, int, int, int, int, int, int> Geometries => new()
    {
        // n, cin, cout, k, stride, padTop, padLeft, padBottom, padRight, h, w
        { 2, 5, 12, 3, 1, 1, 1, 1, 1, 9, 11 },    // 3x3 same: the shifted-window packer
        { 3, 6, 10, 3, 2, 0, 1, 2, 1, 9, 8 },     // stride 2, asymmetric pads
        { 2, 3, 8, 7, 2, 3, 3, 2, 2, 20, 18 },    // the CNTK stem 7x7 stride 2, pads 3,3,2,2 (K = 147)
        { 5, 16, 20, 1, 2, 0, 0, 0, 0, 7, 9 },    // 1x1 stride-2 downsample, 5 images (> 4 chunks)
        { 2, 24, 9, 3, 1, 1, 1, 1, 1, 6, 7 },     // K = 216: two tiles of Wᵀ
        { 2, 4, 136, 3, 1, 1, 1, 1, 1, 6, 6 },    // Cout = 136: two tiles of dY
    };

    [Theory]
    [MemberData(nameof(Geometries))]
    public void MatchesTheReference(int n, int cin, int cout, int k, int stride, int pt, int pl, int pb, int pr, int h, int w)
    {
        int seed = NewSeed();
        var rng = new Random(seed);
        var spec = new ConvSpec(cin, cout, k, k, stride, pt, pl, pb, pr);
        int oh = spec.OutH(h), ow = spec.OutW(w);
        using var reference = new ReferenceBackend();
        using var cpu = new CpuBackend(threads: 2);
        ITrainingBackend r = reference;
        var xv = BackendOpsTestKit.RandomData(rng, (long)n * cin * h * w);
        var wv = BackendOpsTestKit.RandomData(rng, spec.WeightLength, 0.3);
        var bv = BackendOpsTestKit.RandomData(rng, cout);
        var dyv = BackendOpsTestKit.RandomData(rng, (long)n * cout * oh * ow);

        float[][] Run(IBackend b, Func<DeviceTensor, DeviceTensor, DeviceTensor, DeviceTensor, DeviceTensor> forward,
            Func<DeviceTensor, DeviceTensor, DeviceTensor, LayerGradients> backward)
        {
            using var x = b.Upload(xv, n, cin, h, w);
            using var wt = b.Upload(wv, cout, cin, k, k);
            using var bias = b.Upload(bv, cout);
            using var dy = b.Upload(dyv, n, cout, oh, ow);
            using var y = BackendOpsTestKit.Poisoned(() => forward(x, wt, bias, dy));
            using var g = BackendOpsTestKit.Poisoned(() => backward(dy, x, wt));
            return [BackendOpsTestKit.Read(b, y), BackendOpsTestKit.Read(b, g.Input!), BackendOpsTestKit.Read(b, g.Weight!), BackendOpsTestKit.Read(b, g.Bias!)];
        }

        var expected = Run(reference, (x, wt, bias, _) => r.Conv2dForward(x, wt, bias, spec),
            (dy, x, wt) => r.Conv2dBackward(dy, x, wt, spec, true, true));
        var actual = Run(cpu, (x, wt, bias, _) => cpu.Conv2dForward(x, wt, bias, spec),
            (dy, x, wt) => cpu.Conv2dBackward(dy, x, wt, spec, true, true));
        string[] names = ["forward", "dx", "dW", "db"];
        for (int i = 0; i < names.Length; i++)
        {
            TestContext.Current.TestOutputHelper?.WriteLine($"{names[i]}: relative error {BackendOpsTestKit.RelativeError(actual[i], expected[i]):E2}");
            BackendOpsTestKit.AssertClose(actual[i], expected[i], Tolerance, $"cpu conv {names[i]} (seed {seed})");
        }
    }

    [Fact]
    public void IsDeterministicForAnyThreadCount()
    {
        int seed = NewSeed();
        var rng = new Random(seed);
        var spec = new ConvSpec(6, 10, 3, 3, 2, 1, 1, 1, 1);
        const int n = 7, h = 10, w = 9;
        var xv = BackendOpsTestKit.RandomData(rng, n * 6 * h * w);
        var wv = BackendOpsTestKit.RandomData(rng, spec.WeightLength);
        var dyv = BackendOpsTestKit.RandomData(rng, n * 10 * spec.OutH(h) * spec.OutW(w));
        float[][] Gradients(int threads)
        {
            using var cpu = new CpuBackend(threads);
            using var x = cpu.Upload(xv, n, 6, h, w);
            using var wt = cpu.Upload(wv, 10, 6, 3, 3);
            using var dy = cpu.Upload(dyv, n, 10, spec.OutH(h), spec.OutW(w));
            using var g = cpu.Conv2dBackward(dy, x, wt, spec, true, false);
            Assert.Null(g.Bias);
            return [BackendOpsTestKit.Read(cpu, g.Input!), BackendOpsTestKit.Read(cpu, g.Weight!)];
        }
        var one = Gradients(1);
        var two = Gradients(2);
        var three = Gradients(3);
        Assert.Equal(one[0], two[0]);
        Assert.Equal(one[1], two[1]);
        Assert.Equal(one[1], three[1]);
    }
}
