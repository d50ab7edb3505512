using static PatchCore.Backends.TrainingContracts;
using PatchCore.Backends;

namespace PatchCore.Cuda;

/// <summary>SgdStep (kernels/sgd_step.cu), in place on the parameter and its momentum buffer.
/// Truth: Backends/Reference/Training/SgdStep.cs.</summary>
public sealed partial class CudaBackend
{
    public void SgdStep(DeviceTensor parameter, DeviceTensor gradient, DeviceTensor momentumBuffer, SgdOptions options, double learningRate)
    {
        RequireShape(gradient, "SGD gradient", parameter.Shape);
        RequireShape(momentumBuffer, "SGD momentum buffer", parameter.Shape);
        Launch("sgd_step_f32", Grid(parameter.Length), 256, 0,
            [T(parameter).Ptr, T(gradient).Ptr, T(momentumBuffer).Ptr, F((float)learningRate), F((float)options.Momentum),
             F((float)options.WeightDecay), I(parameter.Length)]);
    }
}
