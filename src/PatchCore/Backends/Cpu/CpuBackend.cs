namespace PatchCore.Backends.Cpu;

/// <summary>
/// The fast CPU backend, the default without a GPU: SIMD (Vector256/Vector512, TensorPrimitives) and all
/// cores. One file per op; each op is tested against <see cref="Reference.ReferenceBackend"/>.
/// </summary>
public sealed partial class CpuBackend : ITrainingBackend, IPoisonableBackend
{
    public CpuBackend(int threads = 0)
    {
        Threads = threads > 0 ? threads : Environment.ProcessorCount;
        Parallel = new ParallelOptions { MaxDegreeOfParallelism = Threads };
    }

    /// <summary>Worker threads the ops use.</summary>
    public int Threads { get; }
    internal ParallelOptions Parallel { get; }

    ThreadTeam? team;
    /// <summary>The backbone's short loops (convs, pooling) run on a fixed team of threads, created on first use;
    /// the long loops (coreset, k-NN, aggregation) use Parallel.For, whose start-up cost they do not notice.
    /// The team never has more threads than the machine has cores: its helpers spin between loops, and 8 of
    /// them on 2 cores ran a batch-1 pass 17x slower. (The tiling still uses Threads.)</summary>
    internal ThreadTeam Team => LazyInitializer.EnsureInitialized(ref team, () => new ThreadTeam(Math.Min(Threads, Environment.ProcessorCount)));

    public string Name => "cpu";
    public string Description => $"CPU {Environment.ProcessorCount} cores, {Threads} threads, " +
        (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "AVX-512" :
         System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "AVX2" : "no wide SIMD");

    public DeviceTensor Allocate(params int[] shape) => HostMemory.Allocate(shape);
    public DeviceTensor Upload(ReadOnlySpan<float> data, params int[] shape) => HostMemory.Upload(data, shape);
    public void Download(DeviceTensor source, Span<float> destination) => HostMemory.Download(source, destination);

    /// <summary>Per calling thread (HostMemory's flag), shared by both CPU backends: ops allocate their outputs
    /// on the thread that calls them.</summary>
    public bool PoisonAllocations { get => HostMemory.PoisonAllocations; set => HostMemory.PoisonAllocations = value; }

    public void Dispose() => team?.Dispose();
}
