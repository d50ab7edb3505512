using static PatchCore.Backends.TrainingContracts;
namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public DeviceTensor L2NormalizeRows(DeviceTensor x, double eps)
    {
        CheckRows(x, "row normalisation");
        return Narrow(ReferenceTraining.L2NormalizeRows(Wide(x), x[0], x[1], eps), x.Shape);
    }

    public DeviceTensor L2NormalizeRowsBackward(DeviceTensor dy, DeviceTensor x, double eps)
    {
        CheckRows(x, "row normalisation");
        RequireShape(dy, "row normalisation output gradient", x.Shape);
        return Narrow(ReferenceTraining.L2NormalizeRowsBackward(Wide(dy), Wide(x), x[0], x[1], eps), x.Shape);
    }
}

public static partial class ReferenceTraining
{
    /// <summary>y_r = x_r / max(‖x_r‖, eps) (F.normalize: the norm clamped from below, not eps added).</summary>
    public static double[] L2NormalizeRows(double[] x, int rows, int dim, double eps)
    {
        RequireLength(x, (long)rows * dim, "row normalisation input");
        var y = Output(x.LongLength);
        for (int r = 0; r < rows; r++)
        {
            double d = Math.Max(RowNorm(x, r, dim), eps);
            for (int i = 0; i < dim; i++) y[(long)r * dim + i] = x[(long)r * dim + i] / d;
        }
        return y;
    }

    /// <summary>
    /// With ν = ‖x_r‖ and y = x/ν: dx = (dy − y·(y·dy))/ν, the component of dy across the sphere (moving x along
    /// itself does not change y). Where ν ≤ eps the clamp makes y = x/eps, a linear map: dx = dy/eps.
    /// </summary>
    public static double[] L2NormalizeRowsBackward(double[] dy, double[] x, int rows, int dim, double eps)
    {
        RequireLength(x, (long)rows * dim, "row normalisation input");
        RequireLength(dy, x.LongLength, "row normalisation output gradient");
        var dx = Output(x.LongLength);
        for (int r = 0; r < rows; r++)
        {
            double norm = RowNorm(x, r, dim);
            if (norm <= eps)
            {
                for (int i = 0; i < dim; i++) dx[(long)r * dim + i] = dy[(long)r * dim + i] / eps;
                continue;
            }
            double dot = 0;
            for (int i = 0; i < dim; i++) dot += x[(long)r * dim + i] / norm * dy[(long)r * dim + i];
            for (int i = 0; i < dim; i++)
                dx[(long)r * dim + i] = (dy[(long)r * dim + i] - x[(long)r * dim + i] / norm * dot) / norm;
        }
        return dx;
    }

    static double RowNorm(double[] x, int r, int dim)
    {
        double sq = 0;
        for (int i = 0; i < dim; i++) sq += x[(long)r * dim + i] * x[(long)r * dim + i];
        return Math.Sqrt(sq);
    }
}
