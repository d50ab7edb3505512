namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public void NearestNeighbours(DeviceTensor queries, DeviceTensor database, int k, Span<float> distances, Span<int> indices) => throw new NotImplementedException();
}
