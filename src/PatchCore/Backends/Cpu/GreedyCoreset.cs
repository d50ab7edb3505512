namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    public int[] GreedyCoreset(DeviceTensor features, int count, ReadOnlySpan<int> starts) => throw new NotImplementedException();
}
