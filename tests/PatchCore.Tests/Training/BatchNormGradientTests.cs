using PatchCore.Backends.Reference;
using static PatchCore.Tests.Training.GradientCheck;

namespace PatchCore.Tests.Training;

/// <summary>BatchNorm2d in training mode (batch statistics) and frozen (running statistics): dx, dγ, dβ.</summary>
public class BatchNormGradientTests
{
    const double Eps = 1e-5, Momentum = 0.1;

    [Theory]
    [InlineData(2, 3, 4, 5)]
    [InlineData(4, 2, 1, 1)]   // 1x1 maps (after global pooling): the statistics are over the batch alone
    public void TrainingModeGradientsMatchFiniteDifferences(int n, int c, int h, int w)
    {
        int seed = NewSeed();
        var rng = new Random(seed);
        int cells = h * w;
        // An offset and scale per channel so the batch statistics are not ~0 and ~1 already.
        var x = RandomValues(rng, (long)n * c * cells, 2);
        for (int i = 0; i < x.Length; i++) x[i] += (i / cells) % c - 0.5;
        var gamma = RandomValues(rng, c);
        var beta = RandomValues(rng, c);
        var r = RandomValues(rng, x.Length);
        double Loss()
        {
            // Scratch running statistics: the forward updates them, which must not leak into the next evaluation.
            var (y, _, _) = ReferenceTraining.BatchNorm2dTrainForward(x, n, c, cells, gamma, beta, new double[c], new double[c], Momentum, Eps);
            return Dot(r, y);
        }

        var (_, mean, invStd) = ReferenceTraining.BatchNorm2dTrainForward(x, n, c, cells, gamma, beta, new double[c], new double[c], Momentum, Eps);
        var (dx, dgamma, dbeta) = ReferenceTraining.BatchNorm2dTrainBackward(r, x, n, c, cells, gamma, mean, invStd);
        Check("BN train dx", seed, dx, x, Loss);
        Check("BN train dγ", seed, dgamma, gamma, Loss);
        Check("BN train dβ", seed, dbeta, beta, Loss);
    }

    [Fact]
    public void FrozenGradientsMatchFiniteDifferences()
    {
        int seed = NewSeed();
        var rng = new Random(seed);
        const int n = 2, c = 3, cells = 6;
        var x = RandomValues(rng, n * c * cells, 2);
        var gamma = RandomValues(rng, c);
        var beta = RandomValues(rng, c);
        var runningMean = RandomValues(rng, c);
        var runningVar = new double[c];
        for (int i = 0; i < c; i++) runningVar[i] = 0.2 + rng.NextDouble();
        var r = RandomValues(rng, x.Length);
        double Loss() => Dot(r, ReferenceTraining.BatchNorm2dFrozenForward(x, n, c, cells, gamma, beta, runningMean, runningVar, Eps));

        var (dx, dgamma, dbeta) = ReferenceTraining.BatchNorm2dFrozenBackward(r, x, n, c, cells, gamma, runningMean, runningVar, Eps);
        Check("BN frozen dx", seed, dx, x, Loss);
        Check("BN frozen dγ", seed, dgamma, gamma, Loss);
        Check("BN frozen dβ", seed, dbeta, beta, Loss);
    }

    /// <summary>Hand-computed: one channel holding 1, 2, 3, 4 (n = 2, 2 cells): mean 2.5, biased var 1.25, unbiased
    /// var 5/3. With momentum 0.1 from running (0.5, 1): mean 0.9·0.5 + 0.1·2.5 = 0.7, var 0.9·1 + 0.1·5/3 = 1.0666….</summary>
    [Fact]
    public void RunningStatisticsFollowPyTorch()
    {
        double[] x = [1, 2, 3, 4], rm = [0.5], rv = [1];
        var (y, mean, invStd) = ReferenceTraining.BatchNorm2dTrainForward(x, 2, 1, 2, [1], [0], rm, rv, Momentum, Eps);
        Assert.Equal(2.5, mean[0], 15);
        Assert.Equal(1 / Math.Sqrt(1.25 + Eps), invStd[0], 15);
        Assert.Equal(0.7, rm[0], 15);
        Assert.Equal(0.9 + 0.1 * 5.0 / 3.0, rv[0], 15);
        Assert.Equal(-1.5 / Math.Sqrt(1.25 + Eps), y[0], 15);
    }
}
