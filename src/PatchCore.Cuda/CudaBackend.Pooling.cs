using PatchCore.Backends;

namespace PatchCore.Cuda;

/// <summary>MaxPool2d, AvgPool2d, GlobalAvgPool (kernels/pooling.cu). CPU twin: Backends/Cpu/Pooling.cs.</summary>
public sealed partial class CudaBackend
{
    public DeviceTensor MaxPool2d(DeviceTensor x, PoolSpec pool) => Pool("maxpool_f32", x, pool, OpContracts.MaxPool2d(x, pool));
    public DeviceTensor AvgPool2d(DeviceTensor x, PoolSpec pool) => Pool("avgpool_f32", x, pool, OpContracts.AvgPool2d(x, pool));

    DeviceTensor Pool(string kernel, DeviceTensor x, PoolSpec p, (int OH, int OW) outSize)
    {
        int h = x[2], w = x[3], oh = outSize.OH, ow = outSize.OW;
        var y = (CudaTensor)Allocate(x[0], x[1], oh, ow);
        Launch(kernel, Grid(y.Length), 256, 0,
            [T(x).Ptr, y.Ptr, I(x[0] * x[1]), I(h), I(w), I(p.Kernel), I(p.Stride), I(p.PadTop), I(p.PadLeft), I(oh), I(ow)]);
        return y;
    }

    public DeviceTensor GlobalAvgPool(DeviceTensor x)
    {
        OpContracts.GlobalAvgPool(x);
        var y = (CudaTensor)Allocate(x[0], x[1]);
        int planes = x[0] * x[1];
        Launch("global_avgpool_f32", Grid((long)planes * 32), 256, 0, [T(x).Ptr, y.Ptr, I(planes), I(x[2] * x[3])]);
        return y;
    }
}
