using PatchCore.Backends;
using PatchCore.Backends.Reference;

namespace PatchCore.Tests.Training;

/// <summary>
/// Optimiser steps against PyTorch's formulas worked out by hand for three steps, and the cosine schedule at its
/// landmarks. Parameters (1, −2), gradients (0.5, 0.25), (−0.25, 1), (1, −0.5), lr 0.1, weight decay 0.01.
/// </summary>
public class OptimizerScheduleTests
{
    static readonly double[][] Gradients = [[0.5, 0.25], [-0.25, 1.0], [1.0, -0.5]];

    /// <summary>
    /// SGD momentum 0.9: step 1 g = 0.5 + 0.01·1 = 0.51 (buf = g), p = 1 − 0.1·0.51 = 0.949; second element
    /// g = 0.25 − 0.02 = 0.23, p = −2.023. Step 2: g = −0.25 + 0.00949, buf = 0.9·0.51 − 0.24051 = 0.21849,
    /// p = 0.949 − 0.021849 = 0.927151. Step 3 likewise.
    /// </summary>
    static readonly double[][] SgdExpected = [[0.949, -2.023], [0.927151, -2.141677], [0.806559749, -2.196344623]];

    /// <summary>
    /// AdamW β (0.9, 0.999), eps 1e-8: step 1 p = 1·(1 − 0.001) = 0.999, m = 0.05, v = 0.00025, then
    /// p −= (0.1/0.1)·0.05/(sqrt(0.00025)/sqrt(0.001) + 1e-8) = 0.05/0.50000001 → 0.899000002. Steps 2 and 3 by the same
    /// formulas (bias corrections 1 − 0.9^t, 1 − 0.999^t).
    /// </summary>
    static readonly double[][] AdamWExpected =
        [[0.899000002, -2.097999996], [0.8714672987058463, -2.1843396438485123], [0.804784672376384, -2.2157652442196287]];

    [Fact]
    public void SgdFollowsPyTorchInFloat64()
    {
        double[] p = [1, -2], buffer = new double[2];
        for (int t = 0; t < 3; t++)
        {
            ReferenceTraining.SgdStep(p, Gradients[t], buffer, 0.1, 0.9, 0.01);
            Assert.Equal(SgdExpected[t][0], p[0], 12);
            Assert.Equal(SgdExpected[t][1], p[1], 12);
        }
    }

    [Fact]
    public void AdamWFollowsPyTorchInFloat64()
    {
        double[] p = [1, -2], m = new double[2], v = new double[2];
        for (int t = 0; t < 3; t++)
        {
            ReferenceTraining.AdamWStep(p, Gradients[t], m, v, t + 1, 0.1, 0.9, 0.999, 1e-8, 0.01);
            Assert.Equal(AdamWExpected[t][0], p[0], 12);
            Assert.Equal(AdamWExpected[t][1], p[1], 12);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => ReferenceTraining.AdamWStep(p, Gradients[0], m, v, 0, 0.1, 0.9, 0.999, 1e-8, 0.01));
    }

    [Fact]
    public void BackendStepsUpdateFloat32TensorsInPlace()
    {
        using var b = new ReferenceBackend();
        ITrainingBackend train = b;
        using var sgdP = b.Upload([1f, -2f], 2);
        using var sgdBuf = b.Upload([0f, 0f], 2);
        using var adamP = b.Upload([1f, -2f], 2);
        using var m = b.Upload([0f, 0f], 2);
        using var v = b.Upload([0f, 0f], 2);
        for (int t = 0; t < 3; t++)
        {
            using var g = b.Upload(Gradients[t].Select(x => (float)x).ToArray(), 2);
            train.SgdStep(sgdP, g, sgdBuf, new SgdOptions(Momentum: 0.9, WeightDecay: 0.01), 0.1);
            train.AdamWStep(adamP, g, m, v, t + 1, new AdamWOptions(WeightDecay: 0.01), 0.1);
            var sp = BackendOpsTestKit.Read(b, sgdP);
            var ap = BackendOpsTestKit.Read(b, adamP);
            for (int i = 0; i < 2; i++)
            {
                // float32 state between steps: agreement to float32 rounding.
                Assert.True(Math.Abs(sp[i] - SgdExpected[t][i]) <= 1e-6 * Math.Abs(SgdExpected[t][i]), $"SGD step {t + 1}: {sp[i]} vs {SgdExpected[t][i]}");
                Assert.True(Math.Abs(ap[i] - AdamWExpected[t][i]) <= 1e-6 * Math.Abs(AdamWExpected[t][i]), $"AdamW step {t + 1}: {ap[i]} vs {AdamWExpected[t][i]}");
            }
        }
    }

    [Fact]
    public void CosineScheduleLandmarks()
    {
        // 100 steps, 10 of warm-up, base 0.1, floor 0.001.
        double Lr(int s) => LearningRateSchedule.CosineWithWarmup(s, 100, 10, 0.1, 0.001);
        Assert.Equal(0, Lr(0));
        Assert.Equal(0.05, Lr(5), 15);                 // half-way through the warm-up: half the base
        Assert.Equal(0.1, Lr(10), 15);                 // end of warm-up: the base
        Assert.Equal((0.1 + 0.001) / 2, Lr(55), 15);   // half-way through the decay (45 of 90): the mean
        Assert.Equal(0.001, Lr(100), 15);              // end: the floor
        Assert.Equal(0.001, Lr(150), 15);
        Assert.True(Lr(30) > Lr(31) && Lr(31) > Lr(32), "decays monotonically");
        // A quarter into an 80-step decay: (1 + cos(π/4))/2 of the range above the floor.
        Assert.Equal(0.001 + 0.099 * 0.5 * (1 + Math.Sqrt(0.5)), LearningRateSchedule.CosineWithWarmup(40, 100, 20, 0.1, 0.001), 14);
        Assert.Equal(0.1, LearningRateSchedule.CosineWithWarmup(0, 10, 0, 0.1), 15); // no warm-up starts at the base
        Assert.Throws<ArgumentOutOfRangeException>(() => LearningRateSchedule.CosineWithWarmup(0, 10, 11, 0.1));
    }
}
