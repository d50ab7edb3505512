namespace PatchCore.Backends.Reference;

/// <summary>
/// The CPU reference backend: plain loops, double accumulation, one thread, obviously right. It is the truth
/// every other backend is tested against, not a backend to run real categories with. One file per op.
/// </summary>
public sealed partial class ReferenceBackend : IBackend, IPoisonableBackend
{
    public string Name => "reference";
    public string Description => "CPU reference (plain loops, double accumulation, 1 thread)";

    public DeviceTensor Allocate(params int[] shape) => HostMemory.Allocate(shape);
    public DeviceTensor Upload(ReadOnlySpan<float> data, params int[] shape) => HostMemory.Upload(data, shape);
    public void Download(DeviceTensor source, Span<float> destination) => HostMemory.Download(source, destination);

    /// <summary>Per calling thread (HostMemory's flag), shared by both CPU backends: ops allocate their outputs
    /// on the thread that calls them.</summary>
    public bool PoisonAllocations { get => HostMemory.PoisonAllocations; set => HostMemory.PoisonAllocations = value; }

    public void Dispose() { }
}
