using PatchCore.Backends;
using PatchCore.Backends.Reference;
using static PatchCore.Tests.Training.GradientCheck;

namespace PatchCore.Tests.Training;

/// <summary>ReLU, max-pool and global average pool backward.</summary>
public class ActivationPoolingGradientTests
{
    [Fact]
    public void ReluGradientMatchesFiniteDifferences()
    {
        int seed = NewSeed();
        var rng = new Random(seed);
        var x = AwayFromZero(rng, 60);
        var r = RandomValues(rng, x.Length);
        var y = ReferenceTraining.Relu(x);
        var dx = ReferenceTraining.ReluBackward(r, y);
        Check("ReLU dx", seed, dx, x, () => { var o = ReferenceTraining.Relu(x); return new Evaluation(Dot(r, o), Positives(o)); });
    }

    [Fact]
    public void ReluGradientAtZeroIsZero()
    {
        // PyTorch: threshold_backward on the result, so x = 0 (y = 0) passes no gradient.
        var dx = ReferenceTraining.ReluBackward([5, 5, 5], ReferenceTraining.Relu([-1, 0, 2]));
        Assert.Equal([0, 0, 5], dx);
    }

    public static TheoryData<int, int, int, int, int, int, int, int> Pools => new()
    {
        // kernel, stride, padTop, padLeft, padBottom, padRight, h, w
        { 3, 2, 1, 1, 1, 1, 7, 8 },   // the ResNet stem pool: overlapping windows
        { 2, 2, 0, 0, 0, 0, 6, 5 },   // disjoint windows, a column left out
        { 3, 1, 0, 1, 2, 1, 5, 5 },   // stride 1, asymmetric padding
    };

    [Theory]
    [MemberData(nameof(Pools))]
    public void MaxPoolGradientMatchesFiniteDifferences(int k, int stride, int pt, int pl, int pb, int pr, int h, int w)
    {
        int seed = NewSeed();
        var rng = new Random(seed);
        var pool = new PoolSpec(k, stride, pt, pl, pb, pr);
        const int planes = 3;
        // Distinct values 1e-3 apart in random order: no window is within 2h of a tie, so ±h never moves an argmax.
        int count = planes * h * w;
        var x = new double[count];
        var order = Enumerable.Range(0, count).OrderBy(_ => rng.Next()).ToArray();
        for (int i = 0; i < count; i++) x[i] = (order[i] - count / 2) * 1e-3;
        var r = RandomValues(rng, (long)planes * pool.OutH(h) * pool.OutW(w));
        var dx = ReferenceTraining.MaxPool2dBackward(r, x, planes, h, w, pool);
        Check("max-pool dx", seed, dx, x, () => Dot(r, ReferenceTraining.MaxPool2d(x, planes, h, w, pool)));
    }

    [Fact]
    public void MaxPoolTiesGoToTheFirstCellOfTheWindow()
    {
        // 3x3 stride 2 pad 1 over a constant 4x4 plane → 2x2 outputs. Every window ties; its first valid cell in
        // row-major order is (0,0), (0,1), (1,0), (1,1) for outputs (0,0), (0,1), (1,0), (1,1).
        var x = Enumerable.Repeat(1.0, 16).ToArray();
        var dx = ReferenceTraining.MaxPool2dBackward([10, 20, 30, 40], x, 1, 4, 4, new PoolSpec(3, 2, 1, 1, 1, 1));
        double[] expected = [10, 20, 0, 0, 30, 40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        Assert.Equal(expected, dx);
    }

    [Fact]
    public void MaxPoolFloat64TwinMatchesTheInferenceOp()
    {
        int seed = NewSeed();
        var rng = new Random(seed);
        var pool = new PoolSpec(3, 2, 1, 1, 1, 1);
        var x = RandomValues(rng, 2 * 3 * 7 * 6).Select(v => (double)(float)v).ToArray();
        using var b = new ReferenceBackend();
        using var xt = b.Upload(x.Select(v => (float)v).ToArray(), 2, 3, 7, 6);
        using var yt = b.MaxPool2d(xt, pool);
        var y = BackendOpsTestKit.Read(b, yt);
        var twin = ReferenceTraining.MaxPool2d(x, 6, 7, 6, pool);
        Assert.Equal(twin.Select(v => (float)v).ToArray(), y);
    }

    [Fact]
    public void GlobalAvgPoolGradientMatchesFiniteDifferences()
    {
        int seed = NewSeed();
        var rng = new Random(seed);
        const int planes = 6, cells = 12;
        var x = RandomValues(rng, planes * cells);
        var r = RandomValues(rng, planes);
        var dx = ReferenceTraining.GlobalAvgPoolBackward(r, planes, cells);
        Check("global-pool dx", seed, dx, x, () => Dot(r, ReferenceTraining.GlobalAvgPool(x, planes, cells)));
    }
}
