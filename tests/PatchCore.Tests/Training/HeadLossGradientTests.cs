using PatchCore.Backends.Reference;
using static PatchCore.Tests.Training.GradientCheck;

namespace PatchCore.Tests.Training;

/// <summary>Linear layer, row L2 normalisation, softmax cross-entropy and NT-Xent backward.</summary>
public class HeadLossGradientTests
{
    [Fact]
    public void LinearGradientsMatchFiniteDifferences()
    {
        int seed = NewSeed();
        var rng = new Random(seed);
        const int n = 5, inF = 7, outF = 4;
        var x = RandomValues(rng, n * inF);
        var weight = RandomValues(rng, outF * inF);
        var bias = RandomValues(rng, outF);
        var r = RandomValues(rng, n * outF);
        double Loss() => Dot(r, ReferenceTraining.LinearForward(x, n, inF, weight, bias, outF));
        Check("linear dx", seed, ReferenceTraining.LinearInputGradient(r, n, weight, inF, outF), x, Loss);
        Check("linear dW", seed, ReferenceTraining.LinearWeightGradient(r, x, n, inF, outF), weight, Loss);
        Check("linear db", seed, ReferenceTraining.Conv2dBiasGradient(r, n, outF, 1), bias, Loss);
    }

    [Fact]
    public void L2NormalizeGradientMatchesFiniteDifferences()
    {
        int seed = NewSeed();
        var rng = new Random(seed);
        const int rows = 4, dim = 6;
        var x = RandomValues(rng, rows * dim, 3);
        var r = RandomValues(rng, x.Length);
        var dx = ReferenceTraining.L2NormalizeRowsBackward(r, x, rows, dim, 1e-12);
        Check("L2-normalise dx", seed, dx, x, () => Dot(r, ReferenceTraining.L2NormalizeRows(x, rows, dim, 1e-12)));
    }

    [Fact]
    public void L2NormalizeBelowEpsIsLinear()
    {
        // A row with norm under eps is divided by eps (F.normalize clamps the norm), so its gradient is dy/eps.
        double eps = 1e-3;
        double[] x = [1e-4, -2e-4, 0, 0, 0, 0], dy = [1, 2, 3, 4, 5, 6];
        Assert.Equal([0.1, -0.2, 0, 0, 0, 0], ReferenceTraining.L2NormalizeRows(x, 2, 3, eps), new ToleranceComparer(1e-15));
        Assert.Equal([1000, 2000, 3000, 4000, 5000, 6000], ReferenceTraining.L2NormalizeRowsBackward(dy, x, 2, 3, eps), new ToleranceComparer(1e-9));
    }

    [Fact]
    public void SoftmaxCrossEntropyGradientMatchesFiniteDifferences()
    {
        int seed = NewSeed();
        var rng = new Random(seed);
        const int n = 6, k = 4;
        var logits = RandomValues(rng, n * k, 3);
        var labels = Enumerable.Range(0, n).Select(_ => rng.Next(k)).ToArray();
        double g = 0.5 + rng.NextDouble(); // the loss enters a total with weight g
        var (_, p) = ReferenceTraining.SoftmaxCrossEntropyForward(logits, n, k, labels);
        var dz = ReferenceTraining.SoftmaxCrossEntropyBackward(p, n, k, labels, g);
        Check("cross-entropy dlogits", seed, dz, logits, () => g * ReferenceTraining.SoftmaxCrossEntropyForward(logits, n, k, labels).Loss);
    }

    [Fact]
    public void SoftmaxCrossEntropyValueByHand()
    {
        // Logits (0, ln 3) with label 0: p = (1/4, 3/4), loss = −ln(1/4). Label 1: −ln(3/4). Mean: (ln 4 + ln 4/3)/2.
        var (loss, p) = ReferenceTraining.SoftmaxCrossEntropyForward([0, Math.Log(3), 0, Math.Log(3)], 2, 2, [0, 1]);
        Assert.Equal((Math.Log(4) + Math.Log(4.0 / 3)) / 2, loss, 14);
        Assert.Equal([0.25, 0.75, 0.25, 0.75], p, new ToleranceComparer(1e-15));
        Assert.Throws<ArgumentException>(() => ReferenceTraining.SoftmaxCrossEntropyForward([0, 0], 1, 2, [2]));
    }

    [Theory]
    [InlineData(3, 0, 5)]   // plain SimCLR: 2P views
    [InlineData(3, 4, 5)]   // with 4 extra negatives (CutMix images)
    [InlineData(1, 2, 3)]
    public void NtXentGradientMatchesFiniteDifferences(int pairs, int extra, int dim)
    {
        int seed = NewSeed();
        var rng = new Random(seed);
        int rows = 2 * pairs + extra;
        const double tau = 0.5;
        var z = RandomValues(rng, rows * dim);
        double g = 0.5 + rng.NextDouble();
        var (_, p) = ReferenceTraining.NtXentForward(z, rows, dim, pairs, tau);
        var dz = ReferenceTraining.NtXentBackward(p, z, rows, dim, pairs, tau, g);
        Check("NT-Xent dz", seed, dz, z, () => g * ReferenceTraining.NtXentForward(z, rows, dim, pairs, tau).Loss);
    }

    [Fact]
    public void NtXentThroughL2NormalisationMatchesFiniteDifferences()
    {
        // The contrastive head as trained: raw projections → unit rows → NT-Xent; chain rule through both ops.
        int seed = NewSeed();
        var rng = new Random(seed);
        const int pairs = 2, extra = 2, dim = 4, rows = 2 * pairs + extra;
        const double tau = 0.2;
        var x = RandomValues(rng, rows * dim, 2);
        var u = ReferenceTraining.L2NormalizeRows(x, rows, dim, 1e-12);
        var (_, p) = ReferenceTraining.NtXentForward(u, rows, dim, pairs, tau);
        var du = ReferenceTraining.NtXentBackward(p, u, rows, dim, pairs, tau, 1);
        var dx = ReferenceTraining.L2NormalizeRowsBackward(du, x, rows, dim, 1e-12);
        Check("normalise + NT-Xent dx", seed, dx, x,
            () => ReferenceTraining.NtXentForward(ReferenceTraining.L2NormalizeRows(x, rows, dim, 1e-12), rows, dim, pairs, tau).Loss);
    }

    [Fact]
    public void NtXentValueByHand()
    {
        // Views z0 = z1 = (1, 0), one extra negative z2 = (0, 1), τ = 1: each anchor sees its positive at s = 1 and
        // the negative at s = 0, loss = ln(e + 1) − 1 = ln(1 + 1/e). Without the negative the loss is 0.
        double[] z = [1, 0, 1, 0, 0, 1];
        Assert.Equal(Math.Log(1 + 1 / Math.E), ReferenceTraining.NtXentForward(z, 3, 2, 1, 1).Loss, 14);
        Assert.Equal(0, ReferenceTraining.NtXentForward(z[..4], 2, 2, 1, 1).Loss, 14);
    }

    /// <summary>Element-wise |a − b| ≤ tolerance (for short hand-computed vectors).</summary>
    sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(double v) => 0;
    }
}
