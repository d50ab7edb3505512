using static PatchCore.Backends.TrainingContracts;
namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public void AdamWStep(DeviceTensor parameter, DeviceTensor gradient, DeviceTensor firstMoment, DeviceTensor secondMoment,
        int step, AdamWOptions options, double learningRate)
    {
        RequireShape(gradient, "AdamW gradient", parameter.Shape);
        RequireShape(firstMoment, "AdamW first moment", parameter.Shape);
        RequireShape(secondMoment, "AdamW second moment", parameter.Shape);
        double[] p = Wide(parameter), m = Wide(firstMoment), v = Wide(secondMoment);
        ReferenceTraining.AdamWStep(p, Wide(gradient), m, v, step, learningRate, options.Beta1, options.Beta2, options.Eps, options.WeightDecay);
        Store(p, parameter);
        Store(m, firstMoment);
        Store(v, secondMoment);
    }
}

public static partial class ReferenceTraining
{
    /// <summary>
    /// torch.optim.AdamW (amsgrad off), in place, for step t ≥ 1: p ·= 1 − lr·wd (decoupled decay, before the
    /// moments see the gradient); m = β1·m + (1 − β1)·g; v = β2·v + (1 − β2)·g²;
    /// p −= (lr/(1 − β1^t))·m / (sqrt(v)/sqrt(1 − β2^t) + eps) — eps added AFTER the bias correction of v, as PyTorch.
    /// </summary>
    public static void AdamWStep(double[] parameter, double[] gradient, double[] firstMoment, double[] secondMoment, int step,
        double learningRate, double beta1, double beta2, double eps, double weightDecay)
    {
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), "AdamW steps count from 1");
        RequireLength(gradient, parameter.LongLength, "AdamW gradient");
        RequireLength(firstMoment, parameter.LongLength, "AdamW first moment");
        RequireLength(secondMoment, parameter.LongLength, "AdamW second moment");
        double stepSize = learningRate / (1 - Math.Pow(beta1, step));
        double sqrtCorrection2 = Math.Sqrt(1 - Math.Pow(beta2, step));
        for (long i = 0; i < parameter.LongLength; i++)
        {
            double g = gradient[i];
            parameter[i] *= 1 - learningRate * weightDecay;
            firstMoment[i] = beta1 * firstMoment[i] + (1 - beta1) * g;
            secondMoment[i] = beta2 * secondMoment[i] + (1 - beta2) * g * g;
            parameter[i] -= stepSize * firstMoment[i] / (Math.Sqrt(secondMoment[i]) / sqrtCorrection2 + eps);
        }
    }
}
