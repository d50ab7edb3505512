namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public int[] GreedyCoreset(DeviceTensor features, int count, ReadOnlySpan<int> starts) => throw new NotImplementedException();
}
