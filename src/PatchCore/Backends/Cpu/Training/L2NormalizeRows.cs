using static PatchCore.Backends.TrainingContracts;
namespace PatchCore.Backends.Cpu;

/// <summary>Row L2 normalisation (F.normalize) and its backward; rows in parallel, each row's sums in double.</summary>
public sealed partial class CpuBackend
{
    public DeviceTensor L2NormalizeRows(DeviceTensor x, double eps)
    {
        CheckRows(x, "row normalisation");
        int dim = x[1];
        var xd = HostMemory.AsHost(x).Data;
        var y = HostMemory.Allocate(x.Shape);
        var yd = y.Data;
        Team.For(x[0], r =>
        {
            double d = Math.Max(RowNorm(xd, r, dim), eps);
            for (int i = 0; i < dim; i++) yd[r * dim + i] = (float)(xd[r * dim + i] / d);
        });
        return y;
    }

    /// <summary>dx = (dy − y·(y·dy))/‖x‖; where ‖x‖ ≤ eps the clamp makes it dy/eps.</summary>
    public DeviceTensor L2NormalizeRowsBackward(DeviceTensor dy, DeviceTensor x, double eps)
    {
        CheckRows(x, "row normalisation");
        RequireShape(dy, "row normalisation output gradient", x.Shape);
        int dim = x[1];
        float[] xd = HostMemory.AsHost(x).Data, dyd = HostMemory.AsHost(dy).Data;
        var dx = HostMemory.Allocate(x.Shape);
        var dxd = dx.Data;
        Team.For(x[0], r =>
        {
            int o = r * dim;
            double norm = RowNorm(xd, r, dim);
            if (norm <= eps)
            {
                for (int i = 0; i < dim; i++) dxd[o + i] = (float)(dyd[o + i] / eps);
                return;
            }
            double dot = 0;
            for (int i = 0; i < dim; i++) dot += xd[o + i] / norm * dyd[o + i];
            for (int i = 0; i < dim; i++) dxd[o + i] = (float)((dyd[o + i] - xd[o + i] / norm * dot) / norm);
        });
        return dx;
    }

    static double RowNorm(float[] x, int r, int dim)
    {
        double sq = 0;
        for (int i = 0; i < dim; i++) { double v = x[r * dim + i]; sq += v * v; }
        return Math.Sqrt(sq);
    }
}
