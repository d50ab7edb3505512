using static PatchCore.Backends.TrainingContracts;
namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public void SgdStep(DeviceTensor parameter, DeviceTensor gradient, DeviceTensor momentumBuffer, SgdOptions options, double learningRate)
    {
        RequireShape(gradient, "SGD gradient", parameter.Shape);
        RequireShape(momentumBuffer, "SGD momentum buffer", parameter.Shape);
        double[] p = Wide(parameter), buffer = Wide(momentumBuffer);
        ReferenceTraining.SgdStep(p, Wide(gradient), buffer, learningRate, options.Momentum, options.WeightDecay);
        Store(p, parameter);
        Store(buffer, momentumBuffer);
    }
}

public static partial class ReferenceTraining
{
    /// <summary>
    /// torch.optim.SGD with dampening 0 and nesterov off, in place: g = grad + wd·p; buf = momentum·buf + g;
    /// p −= lr·buf. PyTorch sets buf = g on the first step; from a zero buffer momentum·0 + g is exactly g, so
    /// the caller starts the buffer at zero and needs no first-step flag. Momentum 0 leaves buf = g (unused).
    /// </summary>
    public static void SgdStep(double[] parameter, double[] gradient, double[] momentumBuffer, double learningRate, double momentum, double weightDecay)
    {
        RequireLength(gradient, parameter.LongLength, "SGD gradient");
        RequireLength(momentumBuffer, parameter.LongLength, "SGD momentum buffer");
        for (long i = 0; i < parameter.LongLength; i++)
        {
            double g = gradient[i] + weightDecay * parameter[i];
            momentumBuffer[i] = momentum * momentumBuffer[i] + g;
            parameter[i] -= learningRate * momentumBuffer[i];
        }
    }
}
