namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public DeviceTensor GlobalAvgPoolBackward(DeviceTensor dy, int h, int w)
    {
        if (dy.Rank != 2) throw new ArgumentException($"global-pool output gradient needs [N, C], got {dy.ShapeString}");
        if (h < 1 || w < 1) throw new ArgumentException($"global-pool input size {h}x{w}");
        return Narrow(ReferenceTraining.GlobalAvgPoolBackward(Wide(dy), dy[0] * dy[1], h * w), [dy[0], dy[1], h, w]);
    }
}

public static partial class ReferenceTraining
{
    /// <summary>[planes, cells] → [planes]: the mean of each plane.</summary>
    public static double[] GlobalAvgPool(double[] x, int planes, int cells)
    {
        RequireLength(x, (long)planes * cells, "global-pool input");
        var y = Output(planes);
        for (int p = 0; p < planes; p++)
        {
            double acc = 0;
            for (int i = 0; i < cells; i++) acc += x[(long)p * cells + i];
            y[p] = acc / cells;
        }
        return y;
    }

    /// <summary>Every cell of a plane had weight 1/cells in its mean: dx = dy/cells.</summary>
    public static double[] GlobalAvgPoolBackward(double[] dy, int planes, int cells)
    {
        RequireLength(dy, planes, "global-pool output gradient");
        var dx = Output((long)planes * cells);
        for (int p = 0; p < planes; p++)
        for (int i = 0; i < cells; i++) dx[(long)p * cells + i] = dy[p] / cells;
        return dx;
    }
}
