using static PatchCore.Backends.TrainingContracts;
namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>Each dy cell goes to its window's argmax (ties → first in row-major order, padding never wins),
    /// recomputed from x; one plane per task (planes do not share cells, so threads never write the same cell,
    /// and within a plane the windows are visited in a fixed order).</summary>
    public DeviceTensor MaxPool2dBackward(DeviceTensor dy, DeviceTensor x, PoolSpec pool)
    {
        if (x.Rank != 4) throw new ArgumentException($"max-pool input needs NCHW, got {x.ShapeString}");
        int planes = x[0] * x[1], h = x[2], w = x[3], oh = pool.OutH(h), ow = pool.OutW(w);
        RequireShape(dy, "max-pool output gradient", x[0], x[1], oh, ow);
        float[] xd = HostMemory.AsHost(x).Data, dyd = HostMemory.AsHost(dy).Data;
        var dx = HostMemory.Rent(x.Shape); // pooled: every plane cleared below, then accumulated
        var dxd = dx.Data;
        var p = pool;
        Team.For(planes, pl =>
        {
            int xo = pl * h * w, yo = pl * oh * ow;
            Array.Clear(dxd, xo, h * w); // an accumulation: overlapping windows add up
            for (int oy = 0; oy < oh; oy++)
            {
                int y0 = oy * p.Stride - p.PadTop, ky0 = Math.Max(0, -y0), ky1 = Math.Min(p.Kernel, h - y0);
                for (int ox = 0; ox < ow; ox++)
                {
                    int x0 = ox * p.Stride - p.PadLeft, kx0 = Math.Max(0, -x0), kx1 = Math.Min(p.Kernel, w - x0);
                    int best = -1;
                    float bestValue = float.NegativeInfinity;
                    for (int ky = ky0; ky < ky1; ky++)
                        for (int kx = kx0; kx < kx1; kx++)
                        {
                            int k = xo + (y0 + ky) * w + x0 + kx;
                            if (best < 0 || xd[k] > bestValue) { best = k; bestValue = xd[k]; }
                        }
                    if (best < 0) throw new ArgumentException($"max-pool window ({oy}, {ox}) lies entirely in the padding");
                    dxd[best] += dyd[yo + oy * ow + ox];
                }
            }
        });
        return dx;
    }
}
