using PatchCore.Backends;

namespace PatchCore.Cuda;

/// <summary>
/// Argument checks of the <see cref="ITrainingBackend"/> ops, the same refusals as the reference backend's
/// (Backends/Reference/Training): a wrong shape is an ArgumentException naming the tensor and both shapes, thrown
/// before anything is enqueued. Kept here until the training ops get their own OpContracts methods (issue 13:
/// the CPU backend's training ops are written beside these).
/// </summary>
public sealed partial class CudaBackend
{
    static void RequireShape(DeviceTensor t, string what, params int[] shape)
    {
        if (!t.Shape.AsSpan().SequenceEqual(shape))
            throw new ArgumentException($"{what} is {t.ShapeString}, expected [{string.Join(",", shape)}]");
    }

    static void RequireNchw(DeviceTensor t, string what)
    {
        if (t.Rank != 4) throw new ArgumentException($"{what} needs NCHW, got {t.ShapeString}");
    }

    static (int N, int H, int W) CheckTrainingConv(DeviceTensor x, DeviceTensor weight, ConvSpec spec)
    {
        RequireNchw(x, "conv input");
        if (x[1] != spec.InChannels) throw new ArgumentException($"conv input {x.ShapeString} does not match Cin {spec.InChannels}");
        if (spec.Stride < 1 || spec.PadTop < 0 || spec.PadLeft < 0 || spec.PadBottom < 0 || spec.PadRight < 0)
            throw new ArgumentException($"conv stride {spec.Stride} must be positive and pads non-negative");
        RequireShape(weight, "conv weight", spec.OutChannels, spec.InChannels, spec.KernelH, spec.KernelW);
        if (x[2] + spec.PadTop + spec.PadBottom < spec.KernelH || x[3] + spec.PadLeft + spec.PadRight < spec.KernelW)
            throw new ArgumentException($"conv input {x.ShapeString} (padded) smaller than the {spec.KernelH}x{spec.KernelW} kernel");
        return (x[0], x[2], x[3]);
    }

    static int CheckBatchNorm(DeviceTensor x, DeviceTensor gamma, DeviceTensor beta, DeviceTensor runningMean, DeviceTensor runningVar)
    {
        RequireNchw(x, "batch-norm input");
        int c = x[1];
        RequireShape(gamma, "batch-norm gamma", c);
        RequireShape(beta, "batch-norm beta", c);
        RequireShape(runningMean, "batch-norm running mean", c);
        RequireShape(runningVar, "batch-norm running var", c);
        return c;
    }

    static (int N, int In, int Out) CheckLinear(DeviceTensor x, DeviceTensor weight)
    {
        if (x.Rank != 2) throw new ArgumentException($"linear input needs [N, in], got {x.ShapeString}");
        if (weight.Rank != 2 || weight[1] != x[1]) throw new ArgumentException($"linear weight {weight.ShapeString} does not fit input {x.ShapeString}");
        return (x[0], x[1], weight[0]);
    }

    static void CheckRows(DeviceTensor x, string what)
    {
        if (x.Rank != 2) throw new ArgumentException($"{what} needs [N, D], got {x.ShapeString}");
    }
}
