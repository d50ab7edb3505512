namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public DeviceTensor MaxPool2d(DeviceTensor x, PoolSpec pool) => throw new NotImplementedException();
    public DeviceTensor AvgPool2d(DeviceTensor x, PoolSpec pool) => throw new NotImplementedException();
    public DeviceTensor GlobalAvgPool(DeviceTensor x) => throw new NotImplementedException();
}
