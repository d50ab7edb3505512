namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public DeviceTensor MatMul(DeviceTensor a, DeviceTensor b) => throw new NotImplementedException();
}
