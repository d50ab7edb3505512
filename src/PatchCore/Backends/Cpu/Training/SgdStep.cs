using static PatchCore.Backends.TrainingContracts;
namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>PyTorch SGD in place, each element in double (as the reference) and in parallel chunks (elementwise:
    /// any split gives the same bits).</summary>
    public void SgdStep(DeviceTensor parameter, DeviceTensor gradient, DeviceTensor momentumBuffer, SgdOptions options, double learningRate)
    {
        RequireShape(gradient, "SGD gradient", parameter.Shape);
        RequireShape(momentumBuffer, "SGD momentum buffer", parameter.Shape);
        float[] p = HostMemory.AsHost(parameter).Data, g = HostMemory.AsHost(gradient).Data, buf = HostMemory.AsHost(momentumBuffer).Data;
        double momentum = options.Momentum, wd = options.WeightDecay;
        ElementChunks((int)parameter.Length, (start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                double b = momentum * buf[i] + (g[i] + wd * p[i]);
                buf[i] = (float)b;
                p[i] = (float)(p[i] - learningRate * (float)b);
            }
        });
    }

    /// <summary>Elementwise work split into fixed chunks of 64 Ki elements.</summary>
    void ElementChunks(int length, Action<int, int> body)
    {
        const int Chunk = 1 << 16;
        Team.For((length + Chunk - 1) / Chunk, c => body(c * Chunk, Math.Min(length, (c + 1) * Chunk)));
    }
}
