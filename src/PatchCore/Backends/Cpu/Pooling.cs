namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    public DeviceTensor MaxPool2d(DeviceTensor x, PoolSpec pool) => throw new NotImplementedException();
    public DeviceTensor AvgPool2d(DeviceTensor x, PoolSpec pool) => throw new NotImplementedException();
    public DeviceTensor GlobalAvgPool(DeviceTensor x) => throw new NotImplementedException();
}
