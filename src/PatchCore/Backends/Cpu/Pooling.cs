using System.Numerics.Tensors;

namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    public DeviceTensor MaxPool2d(DeviceTensor x, PoolSpec pool) => Pool(x, pool, max: true);

    /// <summary>Average pooling, padded cells counted as zeros (divisor always Kernel²).</summary>
    public DeviceTensor AvgPool2d(DeviceTensor x, PoolSpec pool) => Pool(x, pool, max: false);

    HostDeviceTensor Pool(DeviceTensor x, PoolSpec p, bool max)
    {
        if (x.Rank != 4) throw new ArgumentException($"pooling needs NCHW, got {x.ShapeString}");
        var xd = HostMemory.AsHost(x).Data;
        int planes = x[0] * x[1], h = x[2], w = x[3], oh = p.OutH(h), ow = p.OutW(w);
        var y = HostMemory.Rent([x[0], x[1], oh, ow]);
        var yd = y.Data;
        float inv = 1f / (p.Kernel * p.Kernel);
        // One plane per iteration: planes are many (channels x batch) and each is a few KiB.
        System.Threading.Tasks.Parallel.For(0, planes, Parallel, pl =>
        {
            var src = xd.AsSpan(pl * h * w, h * w);
            var dst = yd.AsSpan(pl * oh * ow, oh * ow);
            for (int oy = 0; oy < oh; oy++)
            {
                int y0 = oy * p.Stride - p.PadTop;
                int ky0 = Math.Max(0, -y0), ky1 = Math.Min(p.Kernel, h - y0);
                for (int ox = 0; ox < ow; ox++)
                {
                    int x0 = ox * p.Stride - p.PadLeft;
                    int kx0 = Math.Max(0, -x0), kx1 = Math.Min(p.Kernel, w - x0);
                    // Only in-image cells are visited: max ignores padding, the sum counts it as zero.
                    float acc = max ? float.NegativeInfinity : 0f;
                    for (int ky = ky0; ky < ky1; ky++)
                    {
                        int rowStart = (y0 + ky) * w + x0;
                        for (int kx = kx0; kx < kx1; kx++)
                            acc = max ? MathF.Max(acc, src[rowStart + kx]) : acc + src[rowStart + kx];
                    }
                    dst[oy * ow + ox] = max ? acc : acc * inv;
                }
            }
        });
        return y;
    }

    public DeviceTensor GlobalAvgPool(DeviceTensor x)
    {
        if (x.Rank != 4) throw new ArgumentException($"global pooling needs NCHW, got {x.ShapeString}");
        var xd = HostMemory.AsHost(x).Data;
        int planes = x[0] * x[1], hw = x[2] * x[3];
        var y = HostMemory.Rent([x[0], x[1]]);
        for (int pl = 0; pl < planes; pl++) y.Data[pl] = TensorPrimitives.Sum(xd.AsSpan(pl * hw, hw)) / hw;
        return y;
    }
}
