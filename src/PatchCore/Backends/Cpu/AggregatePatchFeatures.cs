namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    public DeviceTensor AggregatePatchFeatures(DeviceTensor layer2, DeviceTensor layer3, AggregationSpec spec) => throw new NotImplementedException();
}
