namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    public DeviceTensor AnomalyMaps(DeviceTensor patchScores, int outH, int outW, float sigma) => throw new NotImplementedException();
}
