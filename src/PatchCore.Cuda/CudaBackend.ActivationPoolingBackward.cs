using static PatchCore.Backends.TrainingContracts;
using PatchCore.Backends;

namespace PatchCore.Cuda;

/// <summary>ReluBackward (kernels/elementwise.cu), MaxPool2dBackward and GlobalAvgPoolBackward (kernels/pooling.cu).
/// Truth: Backends/Reference/Training/Relu.cs, MaxPool2d.cs, GlobalAvgPool.cs.</summary>
public sealed partial class CudaBackend
{
    public DeviceTensor ReluBackward(DeviceTensor dy, DeviceTensor y)
    {
        RequireShape(dy, "ReLU output gradient", y.Shape);
        var dx = (CudaTensor)Allocate(y.Shape);
        Launch("relu_backward_f32", Grid(y.Length), 256, 0, [T(dy).Ptr, T(y).Ptr, dx.Ptr, I(y.Length)]);
        return dx;
    }

    public DeviceTensor MaxPool2dBackward(DeviceTensor dy, DeviceTensor x, PoolSpec pool)
    {
        RequireNchw(x, "max-pool input");
        var (oh, ow) = OpContracts.MaxPool2d(x, pool);
        RequireShape(dy, "max-pool output gradient", x[0], x[1], oh, ow);
        // A window wholly in the padding has no argmax (the reference refuses it); such a pool has pads ≥ the kernel.
        if (pool.PadTop >= pool.Kernel || pool.PadLeft >= pool.Kernel || pool.PadBottom >= pool.Kernel || pool.PadRight >= pool.Kernel)
            throw new ArgumentException($"max-pool pads {pool.PadTop},{pool.PadLeft},{pool.PadBottom},{pool.PadRight} leave windows entirely in the padding");
        var dx = (CudaTensor)Allocate(x.Shape);
        Launch("maxpool_backward_f32", Grid(x.Length), 256, 0,
            [T(dy).Ptr, T(x).Ptr, dx.Ptr, I(x[0] * x[1]), I(x[2]), I(x[3]), I(pool.Kernel), I(pool.Stride), I(pool.PadTop), I(pool.PadLeft), I(oh), I(ow)]);
        return dx;
    }

    public DeviceTensor GlobalAvgPoolBackward(DeviceTensor dy, int h, int w)
    {
        if (dy.Rank != 2) throw new ArgumentException($"global-pool output gradient needs [N, C], got {dy.ShapeString}");
        if (h < 1 || w < 1) throw new ArgumentException($"global-pool input size {h}x{w}");
        var dx = (CudaTensor)Allocate(dy[0], dy[1], h, w);
        Launch("global_avgpool_backward_f32", Grid(dx.Length), 256, 0, [T(dy).Ptr, dx.Ptr, I((long)dy[0] * dy[1]), I((long)h * w)]);
        return dx;
    }
}
