namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public DeviceTensor MaxPool2d(DeviceTensor x, PoolSpec pool) => Pool(x, pool, OpContracts.MaxPool2d(x, pool), max: true);

    public DeviceTensor AvgPool2d(DeviceTensor x, PoolSpec pool) => Pool(x, pool, OpContracts.AvgPool2d(x, pool), max: false);

    static HostDeviceTensor Pool(DeviceTensor x, PoolSpec p, (int H, int W) outSize, bool max)
    {
        var xd = HostMemory.AsHost(x).Data;
        int planes = x[0] * x[1], h = x[2], w = x[3], oh = outSize.H, ow = outSize.W;
        var y = HostMemory.Allocate([x[0], x[1], oh, ow]);
        for (int pl = 0; pl < planes; pl++)
        for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
        {
            double acc = max ? double.NegativeInfinity : 0;
            for (int ky = 0; ky < p.Kernel; ky++)
            for (int kx = 0; kx < p.Kernel; kx++)
            {
                int iy = oy * p.Stride - p.PadTop + ky, ix = ox * p.Stride - p.PadLeft + kx;
                // Padded cells: ignored by max (as -inf), zeros for the average (count_include_pad).
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                float v = xd[((long)pl * h + iy) * w + ix];
                if (max) acc = Math.Max(acc, v); else acc += v;
            }
            y.Data[((long)pl * oh + oy) * ow + ox] = (float)(max ? acc : acc / (p.Kernel * p.Kernel));
        }
        return y;
    }

    public DeviceTensor GlobalAvgPool(DeviceTensor x)
    {
        OpContracts.GlobalAvgPool(x);
        var xd = HostMemory.AsHost(x).Data;
        int planes = x[0] * x[1], hw = x[2] * x[3];
        var y = HostMemory.Allocate([x[0], x[1]]);
        for (int pl = 0; pl < planes; pl++)
        {
            double acc = 0;
            for (int i = 0; i < hw; i++) acc += xd[(long)pl * hw + i];
            y.Data[pl] = (float)(acc / hw);
        }
        return y;
    }
}
