using PatchCore.Backends;
using PatchCore.Backends.Reference;
using static PatchCore.Tests.Training.GradientCheck;

namespace PatchCore.Tests.Training;

/// <summary>
/// A whole ResNet basic block, forward and backward composed from the float64 reference ops:
/// out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), shortcut = x or bn_d(conv1x1 stride 2(x)).
/// Every parameter and the input are checked against finite differences of the whole block: the chain rule
/// across ops (the fork of x into two branches, the residual add, BN's batch coupling) is what is tested here.
/// </summary>
public class ResidualBlockGradientTests
{
    const double Eps = 1e-5;

    /// <summary>The block's parameters and its input, all float64; names as torchvision's BasicBlock.</summary>
    sealed class Block
    {
        public required int N, Cin, Cout, H, W, Stride;
        public required bool Downsample, TrainBatchNorm;
        public required double[] X, Conv1, Bn1Gamma, Bn1Beta, Conv2, Bn2Gamma, Bn2Beta;
        public double[] DownConv = [], DownGamma = [], DownBeta = [];
        // Running statistics for frozen mode (training mode uses batch statistics and scratch running arrays).
        public required double[] RunMean1, RunVar1, RunMean2, RunVar2;
        public double[] RunMeanD = [], RunVarD = [];

        public ConvSpec Spec1 => new(Cin, Cout, 3, 3, Stride, 1, 1, 1, 1);
        public ConvSpec Spec2 => new(Cout, Cout, 3, 3, 1, 1, 1, 1, 1);
        public ConvSpec SpecD => new(Cin, Cout, 1, 1, Stride, 0, 0, 0, 0);
        public int OH => Spec1.OutH(H);
        public int OW => Spec1.OutW(W);
    }

    /// <summary>What the backward needs from the forward (the caches the ITrainingBackend design note names).</summary>
    sealed class Cache
    {
        public double[] A1 = [], Mean1 = [], Inv1 = [], R1 = [], A2 = [], Mean2 = [], Inv2 = [], AD = [], MeanD = [], InvD = [], Out = [];
        public long Pattern;
    }

    static double[] Bn(Block b, double[] a, double[] gamma, double[] beta, double[] rm, double[] rv, out double[] mean, out double[] inv)
    {
        int c = b.Cout, cells = b.OH * b.OW;
        if (b.TrainBatchNorm)
        {
            var (y, m, i) = ReferenceTraining.BatchNorm2dTrainForward(a, b.N, c, cells, gamma, beta, new double[c], new double[c], 0.1, Eps);
            mean = m; inv = i;
            return y;
        }
        mean = inv = [];
        return ReferenceTraining.BatchNorm2dFrozenForward(a, b.N, c, cells, gamma, beta, rm, rv, Eps);
    }

    static (double[] Dx, double[] Dgamma, double[] Dbeta) BnBackward(Block b, double[] dy, double[] a, double[] gamma,
        double[] rm, double[] rv, double[] mean, double[] inv)
    {
        int c = b.Cout, cells = b.OH * b.OW;
        return b.TrainBatchNorm
            ? ReferenceTraining.BatchNorm2dTrainBackward(dy, a, b.N, c, cells, gamma, mean, inv)
            : ReferenceTraining.BatchNorm2dFrozenBackward(dy, a, b.N, c, cells, gamma, rm, rv, Eps);
    }

    static Cache Forward(Block b)
    {
        var k = new Cache();
        k.A1 = ReferenceTraining.Conv2dForward(b.X, b.N, b.H, b.W, b.Conv1, null, b.Spec1);
        var z1 = Bn(b, k.A1, b.Bn1Gamma, b.Bn1Beta, b.RunMean1, b.RunVar1, out k.Mean1, out k.Inv1);
        k.R1 = ReferenceTraining.Relu(z1);
        k.A2 = ReferenceTraining.Conv2dForward(k.R1, b.N, b.OH, b.OW, b.Conv2, null, b.Spec2);
        var z2 = Bn(b, k.A2, b.Bn2Gamma, b.Bn2Beta, b.RunMean2, b.RunVar2, out k.Mean2, out k.Inv2);
        double[] shortcut = b.X;
        if (b.Downsample)
        {
            k.AD = ReferenceTraining.Conv2dForward(b.X, b.N, b.H, b.W, b.DownConv, null, b.SpecD);
            shortcut = Bn(b, k.AD, b.DownGamma, b.DownBeta, b.RunMeanD, b.RunVarD, out k.MeanD, out k.InvD);
        }
        k.Out = ReferenceTraining.Relu(ReferenceTraining.Add(z2, shortcut));
        k.Pattern = Positives(k.Out, Positives(k.R1));
        return k;
    }

    /// <summary>Gradients of Σ r·out, in the order of <see cref="Parameters"/>.</summary>
    static double[][] Backward(Block b, Cache k, double[] r)
    {
        // relu(z2 + shortcut): the add passes the same gradient to both branches.
        var dSum = ReferenceTraining.ReluBackward(r, k.Out);
        var (dA2, dG2, dB2) = BnBackward(b, dSum, k.A2, b.Bn2Gamma, b.RunMean2, b.RunVar2, k.Mean2, k.Inv2);
        var dR1 = ReferenceTraining.Conv2dInputGradient(dA2, b.N, b.OH, b.OW, b.Conv2, b.Spec2);
        var dW2 = ReferenceTraining.Conv2dWeightGradient(dA2, k.R1, b.N, b.OH, b.OW, b.Spec2);
        var dZ1 = ReferenceTraining.ReluBackward(dR1, k.R1);
        var (dA1, dG1, dB1) = BnBackward(b, dZ1, k.A1, b.Bn1Gamma, b.RunMean1, b.RunVar1, k.Mean1, k.Inv1);
        var dXMain = ReferenceTraining.Conv2dInputGradient(dA1, b.N, b.H, b.W, b.Conv1, b.Spec1);
        var dW1 = ReferenceTraining.Conv2dWeightGradient(dA1, b.X, b.N, b.H, b.W, b.Spec1);
        if (!b.Downsample)
            // x fed both branches: its gradient is the sum of the two (the identity shortcut's is dSum itself).
            return [ReferenceTraining.Add(dXMain, dSum), dW1, dG1, dB1, dW2, dG2, dB2];
        var (dAD, dGD, dBD) = BnBackward(b, dSum, k.AD, b.DownGamma, b.RunMeanD, b.RunVarD, k.MeanD, k.InvD);
        var dXShort = ReferenceTraining.Conv2dInputGradient(dAD, b.N, b.H, b.W, b.DownConv, b.SpecD);
        var dWD = ReferenceTraining.Conv2dWeightGradient(dAD, b.X, b.N, b.H, b.W, b.SpecD);
        return [ReferenceTraining.Add(dXMain, dXShort), dW1, dG1, dB1, dW2, dG2, dB2, dWD, dGD, dBD];
    }

    static (string Name, double[] Values)[] Parameters(Block b)
    {
        var p = new List<(string, double[])>
        {
            ("x", b.X), ("conv1", b.Conv1), ("bn1 γ", b.Bn1Gamma), ("bn1 β", b.Bn1Beta),
            ("conv2", b.Conv2), ("bn2 γ", b.Bn2Gamma), ("bn2 β", b.Bn2Beta),
        };
        if (b.Downsample) p.AddRange([("downsample conv", b.DownConv), ("downsample γ", b.DownGamma), ("downsample β", b.DownBeta)]);
        return [.. p];
    }

    static Block NewBlock(Random rng, bool downsample, bool trainBatchNorm)
    {
        int cin = downsample ? 3 : 4, cout = 4;
        double[] Gamma() => RandomValues(rng, cout).Select(v => 0.5 + 0.5 * v).ToArray();
        double[] Var() => RandomValues(rng, cout).Select(v => 0.6 + 0.4 * v).ToArray();
        double convScale = 0.5;
        var b = new Block
        {
            N = 2, Cin = cin, Cout = cout, H = 6, W = 5, Stride = downsample ? 2 : 1,
            Downsample = downsample, TrainBatchNorm = trainBatchNorm,
            X = RandomValues(rng, 2 * cin * 6 * 5),
            Conv1 = RandomValues(rng, cout * cin * 9, convScale), Bn1Gamma = Gamma(), Bn1Beta = RandomValues(rng, cout, 0.3),
            Conv2 = RandomValues(rng, cout * cout * 9, convScale), Bn2Gamma = Gamma(), Bn2Beta = RandomValues(rng, cout, 0.3),
            RunMean1 = RandomValues(rng, cout, 0.3), RunVar1 = Var(), RunMean2 = RandomValues(rng, cout, 0.3), RunVar2 = Var(),
        };
        if (downsample)
        {
            b.DownConv = RandomValues(rng, cout * cin, convScale);
            b.DownGamma = Gamma();
            b.DownBeta = RandomValues(rng, cout, 0.3);
            b.RunMeanD = RandomValues(rng, cout, 0.3);
            b.RunVarD = Var();
        }
        return b;
    }

    [Theory]
    [InlineData(false, true)]   // identity shortcut, BN in training mode
    [InlineData(true, true)]    // 1x1 stride-2 downsample shortcut, BN in training mode
    [InlineData(false, false)]  // identity shortcut, frozen BN
    [InlineData(true, false)]   // downsample, frozen BN
    public void BasicBlockGradientsMatchFiniteDifferences(bool downsample, bool trainBatchNorm)
    {
        int seed = NewSeed();
        var rng = new Random(seed);
        var b = NewBlock(rng, downsample, trainBatchNorm);
        var r = RandomValues(rng, (long)b.N * b.Cout * b.OH * b.OW);
        var grads = Backward(b, Forward(b), r);
        var parameters = Parameters(b);
        Assert.Equal(parameters.Length, grads.Length);
        for (int i = 0; i < parameters.Length; i++)
            Check($"block {parameters[i].Name}", seed, grads[i], parameters[i].Values,
                () => { var k = Forward(b); return new Evaluation(Dot(r, k.Out), k.Pattern); });
    }
}
