using static PatchCore.Backends.TrainingContracts;
namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public DeviceTensor MaxPool2dBackward(DeviceTensor dy, DeviceTensor x, PoolSpec pool)
    {
        RequireNchw(x, "max-pool input");
        RequireShape(dy, "max-pool output gradient", x[0], x[1], pool.OutH(x[2]), pool.OutW(x[3]));
        return Narrow(ReferenceTraining.MaxPool2dBackward(Wide(dy), Wide(x), x[0] * x[1], x[2], x[3], pool), x.Shape);
    }
}

public static partial class ReferenceTraining
{
    /// <summary>The float64 max-pool forward over planes [planes, h, w] (padded cells never win).</summary>
    public static double[] MaxPool2d(double[] x, int planes, int h, int w, PoolSpec p)
    {
        RequireLength(x, (long)planes * h * w, "max-pool input");
        int oh = p.OutH(h), ow = p.OutW(w);
        var y = Output((long)planes * oh * ow);
        for (int pl = 0; pl < planes; pl++)
        for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
            y[((long)pl * oh + oy) * ow + ox] = x[WindowArgmax(x, pl, h, w, oy, ox, p)];
        return y;
    }

    /// <summary>dx = Σ over the output cells whose window's argmax is this input cell of their dy; cells that win
    /// no window get 0. The argmax is recomputed from x.</summary>
    public static double[] MaxPool2dBackward(double[] dy, double[] x, int planes, int h, int w, PoolSpec p)
    {
        RequireLength(x, (long)planes * h * w, "max-pool input");
        int oh = p.OutH(h), ow = p.OutW(w);
        RequireLength(dy, (long)planes * oh * ow, "max-pool output gradient");
        var dx = Output(x.LongLength);
        // Windows overlap (3x3 stride 2 in ResNet), so a cell may receive from several outputs: an accumulation,
        // which starts from zeros on purpose.
        Array.Clear(dx);
        for (int pl = 0; pl < planes; pl++)
        for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
            dx[WindowArgmax(x, pl, h, w, oy, ox, p)] += dy[((long)pl * oh + oy) * ow + ox];
        return dx;
    }

    /// <summary>Flat index of the window's maximum: scanned row by row, a later cell wins only if STRICTLY greater,
    /// so ties go to the first (as PyTorch's CPU and CUDA kernels).</summary>
    static long WindowArgmax(double[] x, int plane, int h, int w, int oy, int ox, PoolSpec p)
    {
        long best = -1;
        double bestValue = double.NegativeInfinity;
        for (int ky = 0; ky < p.Kernel; ky++)
        for (int kx = 0; kx < p.Kernel; kx++)
        {
            int iy = oy * p.Stride - p.PadTop + ky, ix = ox * p.Stride - p.PadLeft + kx;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            long k = ((long)plane * h + iy) * w + ix;
            if (best < 0 || x[k] > bestValue) { best = k; bestValue = x[k]; }
        }
        if (best < 0) throw new ArgumentException($"max-pool window ({oy}, {ox}) lies entirely in the padding");
        return best;
    }
}
