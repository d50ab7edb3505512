using PatchCore.Backends;
using PatchCore.Backends.Reference;
using static PatchCore.Tests.Training.GradientCheck;

namespace PatchCore.Tests.Training;

/// <summary>
/// The float32 <see cref="ITrainingBackend"/> ops of the reference backend against their float64 entries on the
/// same (float-representable) inputs, every output allocated poisoned with NaN: checks the wrappers' shapes,
/// argument order and that every element is written. Tolerance 1e-6 relative (the float32 rounding of outputs).
/// </summary>
public class ReferenceTrainingOpsTests
{
    const double Tolerance = 1e-6;
    readonly ReferenceBackend backend = new();
    ITrainingBackend B => backend;
    readonly int seed = NewSeed();
    Random Rng => rng ??= new Random(seed);
    Random? rng;

    /// <summary>Random values rounded to float32, so both paths start from the same numbers.</summary>
    double[] Values(long n, double scale = 1) => RandomValues(Rng, n, scale).Select(v => (double)(float)v).ToArray();
    DeviceTensor Up(double[] v, params int[] shape) => backend.Upload(v.Select(x => (float)x).ToArray(), shape);

    void Same(DeviceTensor? actual, double[] expected, string what)
    {
        Assert.NotNull(actual);
        var a = BackendOpsTestKit.Read(backend, actual);
        BackendOpsTestKit.AssertClose(a, expected.Select(x => (float)x).ToArray(), Tolerance, $"{what} (seed {seed})");
    }

    static T Poisoned<T>(Func<T> body) => BackendOpsTestKit.Poisoned(body);

    [Fact]
    public void Conv2d()
    {
        var spec = new ConvSpec(3, 4, 3, 3, 2, 1, 0, 2, 1);
        int n = 2, h = 7, w = 6, oh = spec.OutH(h), ow = spec.OutW(w);
        double[] x = Values(n * 3 * h * w), wt = Values(spec.WeightLength), bias = Values(4), dy = Values(n * 4 * oh * ow);
        using var xt = Up(x, n, 3, h, w);
        using var wtt = Up(wt, 4, 3, 3, 3);
        using var bt = Up(bias, 4);
        using var dyt = Up(dy, n, 4, oh, ow);
        using var y = Poisoned(() => B.Conv2dForward(xt, wtt, bt, spec));
        Same(y, ReferenceTraining.Conv2dForward(x, n, h, w, wt, bias, spec), "conv forward");
        using var g = Poisoned(() => B.Conv2dBackward(dyt, xt, wtt, spec, inputGradient: true, biasGradient: true));
        Same(g.Input, ReferenceTraining.Conv2dInputGradient(dy, n, h, w, wt, spec), "conv dx");
        Same(g.Weight, ReferenceTraining.Conv2dWeightGradient(dy, x, n, h, w, spec), "conv dW");
        Same(g.Bias, ReferenceTraining.Conv2dBiasGradient(dy, n, 4, oh * ow), "conv db");
        using var noInput = B.Conv2dBackward(dyt, xt, wtt, spec, inputGradient: false, biasGradient: false);
        Assert.Null(noInput.Input);
        Assert.Null(noInput.Bias);
        // An input smaller than the kernel has no output: refused, not an empty tensor.
        using var tiny = backend.Allocate(1, 3, 1, 1);
        Assert.Throws<ArgumentException>(() => B.Conv2dForward(tiny, wtt, null, new ConvSpec(3, 4, 3, 3, 1, 0, 0, 0, 0)));
        // 2x2 against a 3x3 kernel at stride 2: (2 − 3)/2 + 1 truncates to 1, yet no window fits.
        using var small = backend.Allocate(1, 3, 2, 2);
        Assert.Throws<ArgumentException>(() => B.Conv2dForward(small, wtt, null, new ConvSpec(3, 4, 3, 3, 2, 0, 0, 0, 0)));
    }

    [Fact]
    public void BatchNormTrainingAndFrozen()
    {
        int n = 2, c = 3, h = 2, w = 3;
        double[] x = Values(n * c * h * w, 2), gamma = Values(c), beta = Values(c), dy = Values(x.Length);
        double[] rm = Values(c), rv = Values(c).Select(v => 0.5 + Math.Abs(v)).ToArray();
        using var xt = Up(x, n, c, h, w);
        using var gt = Up(gamma, c);
        using var bt = Up(beta, c);
        using var rmt = Up(rm, c);
        using var rvt = Up(rv, c);
        using var dyt = Up(dy, n, c, h, w);

        using (var fz = Poisoned(() => B.BatchNorm2dFrozenForward(xt, gt, bt, rmt, rvt, 1e-5)))
            Same(fz, ReferenceTraining.BatchNorm2dFrozenForward(x, n, c, h * w, gamma, beta, rm, rv, 1e-5), "frozen BN forward");
        using (var fg = Poisoned(() => B.BatchNorm2dFrozenBackward(dyt, xt, gt, rmt, rvt, 1e-5)))
        {
            var (dx, dg, db) = ReferenceTraining.BatchNorm2dFrozenBackward(dy, x, n, c, h * w, gamma, rm, rv, 1e-5);
            Same(fg.Input, dx, "frozen BN dx");
            Same(fg.Weight, dg, "frozen BN dγ");
            Same(fg.Bias, db, "frozen BN dβ");
        }

        double[] rm64 = (double[])rm.Clone(), rv64 = (double[])rv.Clone();
        var (y, mean, inv) = ReferenceTraining.BatchNorm2dTrainForward(x, n, c, h * w, gamma, beta, rm64, rv64, 0.1, 1e-5);
        using var bn = Poisoned(() => B.BatchNorm2dTrainForward(xt, gt, bt, rmt, rvt, 0.1, 1e-5));
        Same(bn.Output, y, "BN train forward");
        Same(bn.SavedMean, mean, "BN saved mean");
        Same(bn.SavedInvStd, inv, "BN saved 1/std");
        Same(rmt, rm64, "BN running mean (updated in place)");
        Same(rvt, rv64, "BN running var (updated in place)");
        using var g = Poisoned(() => B.BatchNorm2dTrainBackward(dyt, xt, gt, bn.SavedMean, bn.SavedInvStd));
        var (gx, gg, gb) = ReferenceTraining.BatchNorm2dTrainBackward(dy, x, n, c, h * w, gamma, mean, inv);
        Same(g.Input, gx, "BN train dx");
        Same(g.Weight, gg, "BN train dγ");
        Same(g.Bias, gb, "BN train dβ");
    }

    [Fact]
    public void ReluMaxPoolGlobalPool()
    {
        double[] x = Values(2 * 3 * 5 * 4), dy = Values(x.Length);
        using var xt = Up(x, 2, 3, 5, 4);
        using var yt = backend.Relu(xt);
        using var dyt = Up(dy, 2, 3, 5, 4);
        using (var dx = Poisoned(() => B.ReluBackward(dyt, yt)))
            Same(dx, ReferenceTraining.ReluBackward(dy, ReferenceTraining.Relu(x)), "ReLU dx");

        var pool = new PoolSpec(3, 2, 1, 1, 1, 1);
        double[] dp = Values(6 * pool.OutH(5) * pool.OutW(4));
        using var dpt = Up(dp, 2, 3, pool.OutH(5), pool.OutW(4));
        using (var dx = Poisoned(() => B.MaxPool2dBackward(dpt, xt, pool)))
            Same(dx, ReferenceTraining.MaxPool2dBackward(dp, x, 6, 5, 4, pool), "max-pool dx");

        double[] dg = Values(6);
        using var dgt = Up(dg, 2, 3);
        using (var dx = Poisoned(() => B.GlobalAvgPoolBackward(dgt, 5, 4)))
        {
            Assert.Equal([2, 3, 5, 4], dx.Shape);
            Same(dx, ReferenceTraining.GlobalAvgPoolBackward(dg, 6, 20), "global-pool dx");
        }
    }

    [Fact]
    public void LinearAndL2Normalisation()
    {
        int n = 4, inF = 5, outF = 3;
        double[] x = Values(n * inF), wt = Values(outF * inF), bias = Values(outF), dy = Values(n * outF), du = Values(n * inF);
        using var xt = Up(x, n, inF);
        using var wtt = Up(wt, outF, inF);
        using var bt = Up(bias, outF);
        using var dyt = Up(dy, n, outF);
        using var dut = Up(du, n, inF);
        using (var y = Poisoned(() => B.LinearForward(xt, wtt, bt)))
            Same(y, ReferenceTraining.LinearForward(x, n, inF, wt, bias, outF), "linear forward");
        using (var g = Poisoned(() => B.LinearBackward(dyt, xt, wtt, true, true)))
        {
            Same(g.Input, ReferenceTraining.LinearInputGradient(dy, n, wt, inF, outF), "linear dx");
            Same(g.Weight, ReferenceTraining.LinearWeightGradient(dy, x, n, inF, outF), "linear dW");
            Same(g.Bias, ReferenceTraining.Conv2dBiasGradient(dy, n, outF, 1), "linear db");
        }
        using (var u = Poisoned(() => B.L2NormalizeRows(xt, 1e-12)))
            Same(u, ReferenceTraining.L2NormalizeRows(x, n, inF, 1e-12), "L2-normalise forward");
        using (var dx = Poisoned(() => B.L2NormalizeRowsBackward(dut, xt, 1e-12)))
            Same(dx, ReferenceTraining.L2NormalizeRowsBackward(du, x, n, inF, 1e-12), "L2-normalise dx");
    }

    [Fact]
    public void Losses()
    {
        int n = 5, k = 4;
        double[] logits = Values(n * k, 3);
        int[] labels = [0, 3, 1, 1, 2];
        using var lt = Up(logits, n, k);
        var (loss, p) = ReferenceTraining.SoftmaxCrossEntropyForward(logits, n, k, labels);
        using var ce = Poisoned(() => B.SoftmaxCrossEntropyForward(lt, labels));
        Assert.Equal(loss, ce.Loss, 12);
        using (var dz = Poisoned(() => B.SoftmaxCrossEntropyBackward(ce, labels, 0.7)))
            Same(dz, ReferenceTraining.SoftmaxCrossEntropyBackward(p, n, k, labels, 0.7), "cross-entropy dlogits");

        int pairs = 2, rows = 7, dim = 3;
        double[] z = Values(rows * dim);
        using var zt = Up(z, rows, dim);
        var (nt, np) = ReferenceTraining.NtXentForward(z, rows, dim, pairs, 0.3);
        using var ntx = Poisoned(() => B.NtXentForward(zt, pairs, 0.3));
        Assert.Equal(nt, ntx.Loss, 12);
        Assert.Equal([2 * pairs, rows], ntx.Saved.Shape);
        using (var dz = Poisoned(() => B.NtXentBackward(ntx, zt, pairs, 0.3, 1.3)))
            Same(dz, ReferenceTraining.NtXentBackward(np, z, rows, dim, pairs, 0.3, 1.3), "NT-Xent dz");
        Assert.Throws<ArgumentException>(() => B.NtXentForward(zt, 4, 0.3)); // 8 views do not fit in 7 rows
    }
}
