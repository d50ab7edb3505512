namespace PatchCore.Backends;

/// <summary>
/// The argument checks of the <see cref="ITrainingBackend"/> ops, as <see cref="OpContracts"/> is for the forward
/// ops: one check per kind of argument, called first by every backend (reference, cpu, cuda), so a wrong shape is the
/// same ArgumentException naming the tensor and both shapes everywhere, thrown before any work or device launch.
/// </summary>
public static class TrainingContracts
{
    public static void RequireShape(DeviceTensor t, string what, params int[] shape)
    {
        if (!t.Shape.AsSpan().SequenceEqual(shape))
            throw new ArgumentException($"{what} is {t.ShapeString}, expected [{string.Join(",", shape)}]");
    }

    public static void RequireNchw(DeviceTensor t, string what)
    {
        if (t.Rank != 4) throw new ArgumentException($"{what} needs NCHW, got {t.ShapeString}");
    }

    /// <summary>A training conv's input, weight and spec; returns the input's N, H, W.</summary>
    public static (int N, int H, int W) CheckTrainingConv(DeviceTensor x, DeviceTensor weight, ConvSpec spec)
    {
        RequireNchw(x, "conv input");
        if (x[1] != spec.InChannels) throw new ArgumentException($"conv input {x.ShapeString} does not match Cin {spec.InChannels}");
        if (spec.Stride < 1 || spec.PadTop < 0 || spec.PadLeft < 0 || spec.PadBottom < 0 || spec.PadRight < 0)
            throw new ArgumentException($"conv stride {spec.Stride} must be positive and pads non-negative");
        RequireShape(weight, "conv weight", spec.OutChannels, spec.InChannels, spec.KernelH, spec.KernelW);
        // Compared before dividing: OutH's integer division truncates towards zero, so a padded input one cell
        // short of the kernel would still get OutH = 1.
        if (x[2] + spec.PadTop + spec.PadBottom < spec.KernelH || x[3] + spec.PadLeft + spec.PadRight < spec.KernelW)
            throw new ArgumentException($"conv input {x.ShapeString} (padded) smaller than the {spec.KernelH}x{spec.KernelW} kernel");
        return (x[0], x[2], x[3]);
    }

    /// <summary>
    /// BatchNorm's input: [N, C, H, W] (BatchNorm2d) or [N, C] (BatchNorm1d, as in a projection head: one cell per
    /// channel and image). Both ops treat x as [N, C, cells]; <see cref="BatchNormCells"/> gives cells.
    /// </summary>
    public static void RequireBatchNormInput(DeviceTensor x)
    {
        if (x.Rank != 4 && x.Rank != 2) throw new ArgumentException($"batch-norm input needs [N, C, H, W] or [N, C], got {x.ShapeString}");
    }

    /// <summary>Values per channel and image of a BatchNorm input: H·W for NCHW, 1 for [N, C].</summary>
    public static int BatchNormCells(DeviceTensor x) => x.Rank == 4 ? x[2] * x[3] : 1;

    /// <summary>BatchNorm's input and per-channel tensors; returns the channel count.</summary>
    public static int CheckBatchNorm(DeviceTensor x, DeviceTensor gamma, DeviceTensor beta, DeviceTensor runningMean, DeviceTensor runningVar)
    {
        RequireBatchNormInput(x);
        int c = x[1];
        RequireShape(gamma, "batch-norm gamma", c);
        RequireShape(beta, "batch-norm beta", c);
        RequireShape(runningMean, "batch-norm running mean", c);
        RequireShape(runningVar, "batch-norm running var", c);
        return c;
    }

    /// <summary>A linear layer's input [N, in] and weight [out, in]; returns N, in, out.</summary>
    public static (int N, int In, int Out) CheckLinear(DeviceTensor x, DeviceTensor weight)
    {
        if (x.Rank != 2) throw new ArgumentException($"linear input needs [N, in], got {x.ShapeString}");
        if (weight.Rank != 2 || weight[1] != x[1]) throw new ArgumentException($"linear weight {weight.ShapeString} does not fit input {x.ShapeString}");
        return (x[0], x[1], weight[0]);
    }

    public static void CheckRows(DeviceTensor x, string what)
    {
        if (x.Rank != 2) throw new ArgumentException($"{what} needs [N, D], got {x.ShapeString}");
    }

    public static void CheckNtXent(DeviceTensor z, int pairs, double temperature)
    {
        if (z.Rank != 2) throw new ArgumentException($"NT-Xent needs rows [2P + E, D], got {z.ShapeString}");
        if (pairs < 1 || 2 * pairs > z[0]) throw new ArgumentException($"NT-Xent: {pairs} pairs need 2·{pairs} of the {z[0]} rows");
        if (!(temperature > 0)) throw new ArgumentException($"NT-Xent temperature {temperature} must be positive");
    }

    public static void CheckLogits(DeviceTensor logits, ReadOnlySpan<int> labels)
    {
        if (logits.Rank != 2) throw new ArgumentException($"cross-entropy needs logits [N, K], got {logits.ShapeString}");
        if (labels.Length != logits[0]) throw new ArgumentException($"{labels.Length} labels for {logits[0]} rows");
    }
}
