namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    public DeviceTensor PairwiseSquaredDistances(DeviceTensor queries, DeviceTensor database) => throw new NotImplementedException();
}
