using System.Numerics.Tensors;

namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    public DeviceTensor MaxPool2d(DeviceTensor x, PoolSpec pool) => Pool(x, pool, OpContracts.MaxPool2d(x, pool), max: true);

    /// <summary>Average pooling, padded cells counted as zeros (divisor always Kernel²).</summary>
    public DeviceTensor AvgPool2d(DeviceTensor x, PoolSpec pool) => Pool(x, pool, OpContracts.AvgPool2d(x, pool), max: false);

    HostDeviceTensor Pool(DeviceTensor x, PoolSpec p, (int H, int W) outSize, bool max)
    {
        var xd = HostMemory.AsHost(x).Data;
        int planes = x[0] * x[1], h = x[2], w = x[3], oh = outSize.H, ow = outSize.W;
        var y = HostMemory.Rent([x[0], x[1], oh, ow]);
        var yd = y.Data;
        float inv = 1f / (p.Kernel * p.Kernel);
        // One plane per iteration: planes are many (channels x batch) and each is a few KiB.
        if (max)
            Team.For(planes, pl =>
            {
                Span<float> rowMax = w <= 2048 ? stackalloc float[w] : new float[w];
                MaxPlane(xd.AsSpan(pl * h * w, h * w), yd.AsSpan(pl * oh * ow, oh * ow), rowMax, p, h, w, oh, ow);
            });
        else
            Team.For(planes, pl =>
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
                        // Only in-image cells are visited; the padding counts as zero in the sum.
                        float acc = 0f;
                        for (int ky = ky0; ky < ky1; ky++)
                        {
                            int rowStart = (y0 + ky) * w + x0;
                            for (int kx = kx0; kx < kx1; kx++) acc += src[rowStart + kx];
                        }
                        dst[oy * ow + ox] = acc * inv;
                    }
                }
            });
        return y;
    }

    /// <summary>Max pooling of one plane: per output row, the vertical maximum over the window's in-image rows
    /// as one SIMD pass over whole rows (<paramref name="rowMax"/>), then the horizontal maximum per output
    /// cell. Padding is ignored (never a candidate), as in PyTorch and ONNX.</summary>
    static void MaxPlane(ReadOnlySpan<float> src, Span<float> dst, Span<float> rowMax, PoolSpec p, int h, int w, int oh, int ow)
    {
        for (int oy = 0; oy < oh; oy++)
        {
            int y0 = oy * p.Stride - p.PadTop;
            int ky0 = Math.Max(0, -y0), ky1 = Math.Min(p.Kernel, h - y0);
            var rm = rowMax[..w];
            if (ky1 <= ky0) rm.Fill(float.NegativeInfinity);
            else
            {
                src.Slice((y0 + ky0) * w, w).CopyTo(rm);
                for (int ky = ky0 + 1; ky < ky1; ky++) TensorPrimitives.Max(rm, src.Slice((y0 + ky) * w, w), rm);
            }
            var d = dst.Slice(oy * ow, ow);
            for (int ox = 0; ox < ow; ox++)
            {
                int x0 = ox * p.Stride - p.PadLeft;
                int kx0 = Math.Max(0, -x0), kx1 = Math.Min(p.Kernel, w - x0);
                float acc = float.NegativeInfinity;
                for (int kx = kx0; kx < kx1; kx++) acc = MathF.Max(acc, rm[x0 + kx]);
                d[ox] = acc;
            }
        }
    }

    public DeviceTensor GlobalAvgPool(DeviceTensor x)
    {
        OpContracts.GlobalAvgPool(x);
        var xd = HostMemory.AsHost(x).Data;
        int planes = x[0] * x[1], hw = x[2] * x[3];
        var y = HostMemory.Rent([x[0], x[1]]);
        for (int pl = 0; pl < planes; pl++) y.Data[pl] = TensorPrimitives.Sum(xd.AsSpan(pl * hw, hw)) / hw;
        return y;
    }
}
