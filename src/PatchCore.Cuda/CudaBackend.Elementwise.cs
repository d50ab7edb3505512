using PatchCore.Backends;

namespace PatchCore.Cuda;

public sealed partial class CudaBackend
{
    public DeviceTensor Relu(DeviceTensor x)
    {
        var y = (CudaTensor)Allocate(x.Shape);
        Launch("relu_f32", Grid(x.Length), 256, 0, [T(x).Ptr, y.Ptr, I(x.Length)]);
        return y;
    }

    public DeviceTensor Add(DeviceTensor a, DeviceTensor b)
    {
        if (!a.Shape.AsSpan().SequenceEqual(b.Shape)) throw new ArgumentException($"add of {a.ShapeString} and {b.ShapeString}");
        var y = (CudaTensor)Allocate(a.Shape);
        Launch("add_f32", Grid(a.Length), 256, 0, [T(a).Ptr, T(b).Ptr, y.Ptr, I(a.Length)]);
        return y;
    }

    public DeviceTensor MaxPool2d(DeviceTensor x, PoolSpec pool) => Pool("maxpool_f32", x, pool);
    public DeviceTensor AvgPool2d(DeviceTensor x, PoolSpec pool) => Pool("avgpool_f32", x, pool);

    DeviceTensor Pool(string kernel, DeviceTensor x, PoolSpec p)
    {
        if (x.Rank != 4) throw new ArgumentException($"pooling needs [N, C, H, W], got {x.ShapeString}");
        int h = x[2], w = x[3], oh = p.OutH(h), ow = p.OutW(w);
        if (oh <= 0 || ow <= 0) throw new ArgumentException($"pooling input {x.ShapeString} too small for {p}");
        var y = (CudaTensor)Allocate(x[0], x[1], oh, ow);
        Launch(kernel, Grid(y.Length), 256, 0,
            [T(x).Ptr, y.Ptr, I(x[0] * x[1]), I(h), I(w), I(p.Kernel), I(p.Stride), I(p.PadTop), I(p.PadLeft), I(oh), I(ow)]);
        return y;
    }

    public DeviceTensor GlobalAvgPool(DeviceTensor x)
    {
        if (x.Rank != 4) throw new ArgumentException($"global pooling needs [N, C, H, W], got {x.ShapeString}");
        var y = (CudaTensor)Allocate(x[0], x[1]);
        int planes = x[0] * x[1];
        Launch("global_avgpool_f32", Grid((long)planes * 32), 256, 0, [T(x).Ptr, y.Ptr, I(planes), I(x[2] * x[3])]);
        return y;
    }
}
