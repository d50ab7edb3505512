using static PatchCore.Backends.TrainingContracts;
namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>PyTorch AdamW in place (decoupled decay, bias corrections, eps after the correction of v), each
    /// element in double as the reference, elementwise chunks in parallel.</summary>
    public void AdamWStep(DeviceTensor parameter, DeviceTensor gradient, DeviceTensor firstMoment, DeviceTensor secondMoment,
        int step, AdamWOptions options, double learningRate)
    {
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), "AdamW steps count from 1");
        RequireShape(gradient, "AdamW gradient", parameter.Shape);
        RequireShape(firstMoment, "AdamW first moment", parameter.Shape);
        RequireShape(secondMoment, "AdamW second moment", parameter.Shape);
        float[] p = HostMemory.AsHost(parameter).Data, g = HostMemory.AsHost(gradient).Data,
            m = HostMemory.AsHost(firstMoment).Data, v = HostMemory.AsHost(secondMoment).Data;
        double b1 = options.Beta1, b2 = options.Beta2, eps = options.Eps, decay = 1 - learningRate * options.WeightDecay;
        double stepSize = learningRate / (1 - Math.Pow(b1, step)), sqrtCorrection2 = Math.Sqrt(1 - Math.Pow(b2, step));
        ElementChunks((int)parameter.Length, (start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                double gi = g[i], pi = p[i] * decay;
                double mi = b1 * m[i] + (1 - b1) * gi, vi = b2 * v[i] + (1 - b2) * gi * gi;
                m[i] = (float)mi;
                v[i] = (float)vi;
                p[i] = (float)(pi - stepSize * mi / (Math.Sqrt(vi) / sqrtCorrection2 + eps));
            }
        });
    }
}
