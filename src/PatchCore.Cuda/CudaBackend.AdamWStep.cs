using static PatchCore.Backends.TrainingContracts;
using PatchCore.Backends;

namespace PatchCore.Cuda;

/// <summary>AdamWStep (kernels/adam_wstep.cu), in place on the parameter and its two moments; the step's scalars
/// (bias corrections, decay) computed here in double once per call. Truth: Backends/Reference/Training/AdamWStep.cs.</summary>
public sealed partial class CudaBackend
{
    public void AdamWStep(DeviceTensor parameter, DeviceTensor gradient, DeviceTensor firstMoment, DeviceTensor secondMoment,
        int step, AdamWOptions options, double learningRate)
    {
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), "AdamW steps count from 1");
        RequireShape(gradient, "AdamW gradient", parameter.Shape);
        RequireShape(firstMoment, "AdamW first moment", parameter.Shape);
        RequireShape(secondMoment, "AdamW second moment", parameter.Shape);
        double stepSize = learningRate / (1 - Math.Pow(options.Beta1, step));
        double sqrtCorrection2 = Math.Sqrt(1 - Math.Pow(options.Beta2, step));
        Launch("adamw_step_f32", Grid(parameter.Length), 256, 0,
            [T(parameter).Ptr, T(gradient).Ptr, T(firstMoment).Ptr, T(secondMoment).Ptr,
             F((float)(1 - learningRate * options.WeightDecay)), F((float)options.Beta1), F((float)(1 - options.Beta1)),
             F((float)options.Beta2), F((float)(1 - options.Beta2)), F((float)stepSize), F((float)sqrtCorrection2),
             F((float)options.Eps), I(parameter.Length)]);
    }
}
