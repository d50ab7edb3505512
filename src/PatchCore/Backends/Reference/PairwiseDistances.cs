namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public DeviceTensor PairwiseSquaredDistances(DeviceTensor queries, DeviceTensor database) => throw new NotImplementedException();
}
