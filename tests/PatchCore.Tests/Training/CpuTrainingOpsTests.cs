using PatchCore.Backends;
using PatchCore.Backends.Cpu;
using PatchCore.Backends.Reference;
using static PatchCore.Tests.Training.GradientCheck;

namespace PatchCore.Tests.Training;

/// <summary>
/// Every training op of the fast CPU backend (besides the conv, <see cref="CpuConvBackwardTests"/>) against the
/// reference backend in float32: ≤ 1e-4 relative (max |a − r| / max |r| per output), fresh random inputs, every
/// output allocated poisoned with NaN (a NaN fails), in-place state (running statistics, optimiser buffers)
/// compared too. Each op also runs with 1 and 2 threads and must give the same bits (fixed reduction order).
/// </summary>
public class CpuTrainingOpsTests
{
    const double Tolerance = 1e-4;
    readonly int seed = NewSeed();

    /// <summary>Runs <paramref name="op"/> on the reference, the CPU backend with 1 thread and with 2; compares
    /// every returned array with the reference and the two CPU runs with each other bit for bit.</summary>
    void Check(string what, Func<ITrainingBackend, Random, float[][]> op)
    {
        float[][] Run(ITrainingBackend b) => BackendOpsTestKit.Poisoned(() => op(b, new Random(seed)));
        using var reference = new ReferenceBackend();
        using var one = new CpuBackend(threads: 1);
        using var two = new CpuBackend(threads: 2);
        var expected = Run(reference);
        var a1 = Run(one);
        var a2 = Run(two);
        Assert.Equal(expected.Length, a1.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            TestContext.Current.TestOutputHelper?.WriteLine($"{what}[{i}]: relative error {BackendOpsTestKit.RelativeError(a1[i], expected[i]):E2}");
            BackendOpsTestKit.AssertClose(a1[i], expected[i], Tolerance, $"cpu {what} output {i} (seed {seed})");
            Assert.Equal(a1[i], a2[i]);
        }
    }

    static DeviceTensor Random(ITrainingBackend b, Random rng, double scale, params int[] shape) =>
        b.Upload(BackendOpsTestKit.RandomData(rng, PatchCore.Tensors.Tensor.ShapeLength(shape), scale), shape);

    static float[] R(ITrainingBackend b, DeviceTensor? t)
    {
        Assert.NotNull(t);
        return BackendOpsTestKit.Read(b, t);
    }

    [Theory]
    [InlineData(3, 5, 7, 9)]
    [InlineData(2, 17, 4, 3)]
    [InlineData(20, 33, 0, 0)]   // h = w = 0: x is [N, C] (BatchNorm1d, the contrastive projection head)
    public void BatchNormTrain(int n, int c, int h, int w) => Check("batch-norm train", (b, rng) =>
    {
        int[] shape = h == 0 ? [n, c] : [n, c, h, w];
        using var x = Random(b, rng, 2, shape);
        using var g = Random(b, rng, 1, c);
        using var beta = Random(b, rng, 1, c);
        using var rm = Random(b, rng, 0.5, c);
        using var rv = b.Upload(Enumerable.Range(0, c).Select(i => 0.5f + i * 0.1f).ToArray(), c);
        using var dy = Random(b, rng, 1, shape);
        using var y = b.BatchNorm2dTrainForward(x, g, beta, rm, rv, 0.1, 1e-5);
        using var grads = b.BatchNorm2dTrainBackward(dy, x, g, y.SavedMean, y.SavedInvStd);
        return [R(b, y.Output), R(b, y.SavedMean), R(b, y.SavedInvStd), R(b, rm), R(b, rv), R(b, grads.Input), R(b, grads.Weight), R(b, grads.Bias)];
    });

    [Fact]
    public void BatchNormFrozen() => Check("batch-norm frozen", (b, rng) =>
    {
        const int n = 2, c = 11, h = 5, w = 6;
        using var x = Random(b, rng, 2, n, c, h, w);
        using var g = Random(b, rng, 1, c);
        using var beta = Random(b, rng, 1, c);
        using var rm = Random(b, rng, 0.5, c);
        using var rv = b.Upload(Enumerable.Range(0, c).Select(i => 0.3f + i * 0.2f).ToArray(), c);
        using var dy = Random(b, rng, 1, n, c, h, w);
        using var y = b.BatchNorm2dFrozenForward(x, g, beta, rm, rv, 1e-5);
        using var grads = b.BatchNorm2dFrozenBackward(dy, x, g, rm, rv, 1e-5);
        return [R(b, y), R(b, grads.Input), R(b, grads.Weight), R(b, grads.Bias)];
    });

    [Fact]
    public void ReluBackward() => Check("relu backward", (b, rng) =>
    {
        using var x = Random(b, rng, 1, 3, 4, 5, 7); // 420 values: SIMD body and a tail
        using var y = b.Relu(x);
        using var dy = Random(b, rng, 1, 3, 4, 5, 7);
        using var dx = b.ReluBackward(dy, y);
        return [R(b, dx)];
    });

    [Fact]
    public void MaxPoolBackward() => Check("max-pool backward", (b, rng) =>
    {
        var pool = new PoolSpec(3, 2, 1, 1, 1, 1);
        using var x = Random(b, rng, 1, 2, 3, 9, 8);
        // A few ties (equal values in one window): the first must win, as in the reference.
        var xv = BackendOpsTestKit.Read(b, x);
        for (int i = 0; i + 1 < xv.Length; i += 7) xv[i + 1] = xv[i];
        using var xt = b.Upload(xv, 2, 3, 9, 8);
        using var dy = Random(b, rng, 1, 2, 3, pool.OutH(9), pool.OutW(8));
        using var dx = b.MaxPool2dBackward(dy, xt, pool);
        return [R(b, dx)];
    });

    [Fact]
    public void GlobalAvgPoolBackward() => Check("global-pool backward", (b, rng) =>
    {
        using var dy = Random(b, rng, 1, 3, 5);
        using var dx = b.GlobalAvgPoolBackward(dy, 4, 7);
        return [R(b, dx)];
    });

    [Fact]
    public void Linear() => Check("linear", (b, rng) =>
    {
        const int n = 6, inF = 37, outF = 5;
        using var x = Random(b, rng, 1, n, inF);
        using var w = Random(b, rng, 0.3, outF, inF);
        using var bias = Random(b, rng, 1, outF);
        using var dy = Random(b, rng, 1, n, outF);
        using var y = b.LinearForward(x, w, bias);
        using var g = b.LinearBackward(dy, x, w, true, true);
        return [R(b, y), R(b, g.Input), R(b, g.Weight), R(b, g.Bias)];
    });

    [Fact]
    public void L2NormalizeRows() => Check("l2 normalise", (b, rng) =>
    {
        using var x = Random(b, rng, 1, 5, 19);
        using var dy = Random(b, rng, 1, 5, 19);
        using var y = b.L2NormalizeRows(x, 1e-12);
        using var dx = b.L2NormalizeRowsBackward(dy, x, 1e-12);
        return [R(b, y), R(b, dx)];
    });

    [Fact]
    public void SoftmaxCrossEntropy() => Check("cross-entropy", (b, rng) =>
    {
        int[] labels = [0, 3, 2, 1, 1, 0, 3];
        using var z = Random(b, rng, 3, labels.Length, 4);
        using var loss = b.SoftmaxCrossEntropyForward(z, labels);
        using var dz = b.SoftmaxCrossEntropyBackward(loss, labels, 0.7);
        return [[(float)loss.Loss], R(b, loss.Saved), R(b, dz)];
    });

    [Fact]
    public void NtXent() => Check("NT-Xent", (b, rng) =>
    {
        const int pairs = 3, extra = 2, dim = 9;
        using var raw = Random(b, rng, 1, 2 * pairs + extra, dim);
        using var z = b.L2NormalizeRows(raw, 1e-12);
        using var loss = b.NtXentForward(z, pairs, 0.2);
        using var dz = b.NtXentBackward(loss, z, pairs, 0.2, 1.3);
        return [[(float)loss.Loss], R(b, loss.Saved), R(b, dz)];
    });

    [Theory]
    [InlineData(0.9, 0.0)]
    [InlineData(0.0, 1e-2)]
    public void Sgd(double momentum, double decay) => Check("SGD", (b, rng) =>
    {
        using var p = Random(b, rng, 1, 70001); // more than one 64 Ki chunk
        using var buf = b.Upload(new float[70001], 70001);
        for (int step = 0; step < 3; step++)
        {
            using var g = Random(b, rng, 1, 70001);
            b.SgdStep(p, g, buf, new SgdOptions(momentum, decay), 0.05);
        }
        return [R(b, p), R(b, buf)];
    });

    [Fact]
    public void AdamW() => Check("AdamW", (b, rng) =>
    {
        const int n = 70001;
        using var p = Random(b, rng, 1, n);
        using var m = b.Upload(new float[n], n);
        using var v = b.Upload(new float[n], n);
        for (int step = 1; step <= 3; step++)
        {
            using var g = Random(b, rng, 1, n);
            b.AdamWStep(p, g, m, v, step, new AdamWOptions(WeightDecay: 0.05), 1e-2);
        }
        return [R(b, p), R(b, m), R(b, v)];
    });
}
