namespace PatchCore.Backends;

/// <summary>Memory handling shared by the two CPU backends (reference and cpu): tensors are managed arrays.</summary>
public static class HostMemory
{
    public static HostDeviceTensor Allocate(int[] shape)
    {
        var data = new float[checked((int)Tensors.Tensor.ShapeLength(shape))];
        if (PoisonAllocations) data.AsSpan().Fill(float.NaN);
        return new(data, shape);
    }

    /// <summary>
    /// An output tensor whose array comes from a small pool of exact-length arrays returned by Dispose. Large
    /// fresh arrays cost a page fault per 4 KiB on first touch (tens of ms per backbone pass at batch 1 on a
    /// VM); recycling them keeps the backbone's activations in memory that is already mapped. The contents are
    /// NOT cleared: the op must write every element (tests poison them with NaN to check).
    /// </summary>
    public static HostDeviceTensor Rent(int[] shape)
    {
        int n = checked((int)Tensors.Tensor.ShapeLength(shape));
        float[]? data = null;
        if (n >= PoolMinLength && Pool.TryGetValue(n, out var stack)) stack.TryPop(out data);
        data ??= GC.AllocateUninitializedArray<float>(n);
        if (PoisonAllocations) data.AsSpan().Fill(float.NaN);
        return new HostDeviceTensor(data, shape) { Pooled = n >= PoolMinLength };
    }

    internal static void Return(float[] data)
    {
        var stack = Pool.GetOrAdd(data.Length, _ => new System.Collections.Concurrent.ConcurrentStack<float[]>());
        if (stack.Count < PoolPerLength) stack.Push(data);
    }

    // Arrays over 85 KB land on the large-object heap, where every fresh one costs zeroing, page faults and
    // eventually a gen-2 collection (0.4 ms per layer3 conv at batch 1 before this pool took them); arrays
    // under 16 KiB are cheap for the GC. A few arrays per size cover an inference pass at any batch; a training
    // step keeps more maps of one size alive at once (layer3's forward caches and their gradients: about a dozen
    // [N, 256, 14, 14]), so the pool keeps up to 16 (never more than were alive at once: an array enters it only
    // from Dispose).
    const int PoolMinLength = 4 * 1024, PoolPerLength = 16;
    static readonly System.Collections.Concurrent.ConcurrentDictionary<int, System.Collections.Concurrent.ConcurrentStack<float[]>> Pool = new();

    /// <summary>Tests set this (per thread) so every output an op allocates starts as NaN: an element the op
    /// forgets to write then fails the comparison instead of passing as a lucky zero.</summary>
    [ThreadStatic] internal static bool PoisonAllocations;

    public static HostDeviceTensor Upload(ReadOnlySpan<float> data, int[] shape)
    {
        OpContracts.Upload(data.Length, shape);
        var t = Allocate(shape);
        data.CopyTo(t.Data);
        return t;
    }

    public static void Download(DeviceTensor source, Span<float> destination)
    {
        var t = AsHost(source);
        OpContracts.Download(t, destination.Length);
        t.Span.CopyTo(destination);
    }

    /// <summary>The host tensor behind a DeviceTensor; a tensor of another backend is a programming error.</summary>
    public static HostDeviceTensor AsHost(DeviceTensor t) =>
        t as HostDeviceTensor ?? throw new ArgumentException($"tensor {t.GetType().Name} does not belong to a CPU backend");
}
