using static PatchCore.Backends.TrainingContracts;
using PatchCore.Backends;

namespace PatchCore.Cuda;

/// <summary>L2NormalizeRows and its backward (kernels/l2_normalize_rows.cu, one block per row).
/// Truth: Backends/Reference/Training/L2NormalizeRows.cs.</summary>
public sealed partial class CudaBackend
{
    public DeviceTensor L2NormalizeRows(DeviceTensor x, double eps)
    {
        CheckRows(x, "row normalisation");
        var y = (CudaTensor)Allocate(x.Shape);
        Launch("l2_normalize_rows_f32", RowBlocks(x[0]), 256, 0, [T(x).Ptr, y.Ptr, I(x[0]), I(x[1]), D(eps)]);
        return y;
    }

    public DeviceTensor L2NormalizeRowsBackward(DeviceTensor dy, DeviceTensor x, double eps)
    {
        CheckRows(x, "row normalisation");
        RequireShape(dy, "row normalisation output gradient", x.Shape);
        var dx = (CudaTensor)Allocate(x.Shape);
        Launch("l2_normalize_rows_backward_f32", RowBlocks(x[0]), 256, 0, [T(dy).Ptr, T(x).Ptr, dx.Ptr, I(x[0]), I(x[1]), D(eps)]);
        return dx;
    }

    static uint RowBlocks(int rows) => (uint)Math.Min(rows, 65535);
}
