using static PatchCore.Backends.TrainingContracts;
using PatchCore.Backends;

namespace PatchCore.Cuda;

/// <summary>
/// BatchNorm for training, both modes (kernels/batch_norm2d.cu): per-channel statistics and gradient sums as
/// fixed-order block reductions (one block per channel, no atomics), the rest elementwise. Truth:
/// Backends/Reference/Training/BatchNorm2d.cs and FrozenBatchNorm2d.cs.
/// </summary>
public sealed partial class CudaBackend
{
    public BatchNormTrainOutput BatchNorm2dTrainForward(DeviceTensor x, DeviceTensor gamma, DeviceTensor beta,
        DeviceTensor runningMean, DeviceTensor runningVar, double momentum, double eps)
    {
        int c = CheckBatchNorm(x, gamma, beta, runningMean, runningVar);
        long cells = (long)BatchNormCells(x);
        if (x[0] * cells < 2) throw new ArgumentException("batch-norm training needs more than one value per channel (the unbiased variance divides by M − 1)");
        var mean = (CudaTensor)Allocate(c);
        var invStd = (CudaTensor)Allocate(c);
        var y = (CudaTensor)Allocate(x.Shape);
        Launch("bn_train_stats_f32", ChannelBlocks(c), 256, 0,
            [T(x).Ptr, mean.Ptr, invStd.Ptr, T(runningMean).Ptr, T(runningVar).Ptr, I(x[0]), I(c), I(cells), D(momentum), D(eps)]);
        Affine(x, y, gamma, beta, mean, invStd);
        return new BatchNormTrainOutput(y, mean, invStd);
    }

    public LayerGradients BatchNorm2dTrainBackward(DeviceTensor dy, DeviceTensor x, DeviceTensor gamma,
        DeviceTensor savedMean, DeviceTensor savedInvStd)
    {
        RequireBatchNormInput(x);
        int c = x[1];
        RequireShape(dy, "batch-norm output gradient", x.Shape);
        RequireShape(gamma, "batch-norm gamma", c);
        RequireShape(savedMean, "batch-norm saved mean", c);
        RequireShape(savedInvStd, "batch-norm saved 1/std", c);
        long cells = (long)BatchNormCells(x);
        var (dgamma, dbeta) = BackwardSums(dy, x, savedMean, savedInvStd);
        var dx = (CudaTensor)Allocate(x.Shape);
        Launch("bn_train_dx_f32", Grid(x.Length), 256, 0,
            [T(dy).Ptr, T(x).Ptr, T(gamma).Ptr, T(savedMean).Ptr, T(savedInvStd).Ptr, dgamma.Ptr, dbeta.Ptr, dx.Ptr,
             I(c), I(cells), I(x[0] * cells), I(x.Length)]);
        return new LayerGradients(dx, dgamma, dbeta);
    }

    public DeviceTensor BatchNorm2dFrozenForward(DeviceTensor x, DeviceTensor gamma, DeviceTensor beta,
        DeviceTensor runningMean, DeviceTensor runningVar, double eps)
    {
        int c = CheckBatchNorm(x, gamma, beta, runningMean, runningVar);
        var y = (CudaTensor)Allocate(x.Shape);
        using var invStd = FrozenInvStd(runningVar, c, eps);
        Affine(x, y, gamma, beta, runningMean, invStd);
        return y;
    }

    public LayerGradients BatchNorm2dFrozenBackward(DeviceTensor dy, DeviceTensor x, DeviceTensor gamma,
        DeviceTensor runningMean, DeviceTensor runningVar, double eps)
    {
        int c = CheckBatchNorm(x, gamma, gamma, runningMean, runningVar);
        RequireShape(dy, "batch-norm output gradient", x.Shape);
        using var invStd = FrozenInvStd(runningVar, c, eps);
        var (dgamma, dbeta) = BackwardSums(dy, x, runningMean, invStd);
        var dx = (CudaTensor)Allocate(x.Shape);
        Launch("bn_frozen_dx_f32", Grid(x.Length), 256, 0,
            [T(dy).Ptr, T(gamma).Ptr, invStd.Ptr, dx.Ptr, I(c), I((long)BatchNormCells(x)), I(x.Length)]);
        return new LayerGradients(dx, dgamma, dbeta);
    }

    /// <summary>One block per channel, at most the grid limit (the kernels loop over channels beyond it).</summary>
    static uint ChannelBlocks(int channels) => (uint)Math.Clamp(channels, 1, 65535);

    void Affine(DeviceTensor x, CudaTensor y, DeviceTensor gamma, DeviceTensor beta, DeviceTensor mean, DeviceTensor invStd) =>
        Launch("bn_affine_f32", Grid(x.Length), 256, 0,
            [T(x).Ptr, y.Ptr, T(gamma).Ptr, T(beta).Ptr, T(mean).Ptr, T(invStd).Ptr, I(x[1]), I((long)BatchNormCells(x)), I(x.Length)]);

    CudaTensor FrozenInvStd(DeviceTensor runningVar, int channels, double eps)
    {
        var inv = (CudaTensor)Allocate(channels);
        Launch("bn_frozen_inv_std_f32", Grid(channels), 256, 0, [T(runningVar).Ptr, inv.Ptr, I(channels), D(eps)]);
        return inv;
    }

    (CudaTensor Dgamma, CudaTensor Dbeta) BackwardSums(DeviceTensor dy, DeviceTensor x, DeviceTensor mean, DeviceTensor invStd)
    {
        int c = x[1];
        var dgamma = (CudaTensor)Allocate(c);
        var dbeta = (CudaTensor)Allocate(c);
        Launch("bn_backward_sums_f32", ChannelBlocks(c), 256, 0,
            [T(dy).Ptr, T(x).Ptr, T(mean).Ptr, T(invStd).Ptr, dgamma.Ptr, dbeta.Ptr, I(x[0]), I(c), I((long)BatchNormCells(x))]);
        return (dgamma, dbeta);
    }
}
