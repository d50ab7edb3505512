namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>dx = dy/(H·W) on every cell of the plane.</summary>
    public DeviceTensor GlobalAvgPoolBackward(DeviceTensor dy, int h, int w)
    {
        if (dy.Rank != 2) throw new ArgumentException($"global-pool output gradient needs [N, C], got {dy.ShapeString}");
        if (h < 1 || w < 1) throw new ArgumentException($"global-pool input size {h}x{w}");
        var dyd = HostMemory.AsHost(dy).Data;
        var dx = HostMemory.Rent([dy[0], dy[1], h, w]); // pooled: every plane filled
        var dxd = dx.Data;
        int cells = h * w;
        Team.For(dy[0] * dy[1], pl => dxd.AsSpan(pl * cells, cells).Fill((float)(dyd[pl] / (double)cells)));
        return dx;
    }
}
