namespace PatchCore.Backends;

/// <summary>Memory handling shared by the two CPU backends: tensors are managed arrays.</summary>
public static class HostMemory
{
    public static HostDeviceTensor Allocate(int[] shape)
    {
        var data = new float[checked((int)Tensors.Tensor.ShapeLength(shape))];
        if (PoisonAllocations) data.AsSpan().Fill(float.NaN);
        return new(data, shape);
    }

    /// <summary>Tests set this (per thread) so every output an op allocates starts as NaN: an element the op
    /// forgets to write then fails the comparison instead of passing as a lucky zero.</summary>
    [ThreadStatic] internal static bool PoisonAllocations;

    public static HostDeviceTensor Upload(ReadOnlySpan<float> data, int[] shape)
    {
        var t = Allocate(shape);
        if (data.Length != t.Length)
            throw new ArgumentException($"upload of {data.Length} values into shape [{string.Join(",", shape)}]");
        data.CopyTo(t.Data);
        return t;
    }

    public static void Download(DeviceTensor source, Span<float> destination)
    {
        var t = AsHost(source);
        if (destination.Length < t.Length) throw new ArgumentException("download destination too small");
        t.Span.CopyTo(destination);
    }

    /// <summary>The host tensor behind a DeviceTensor; a tensor of another backend is a programming error.</summary>
    public static HostDeviceTensor AsHost(DeviceTensor t) =>
        t as HostDeviceTensor ?? throw new ArgumentException($"tensor {t.GetType().Name} does not belong to a CPU backend");
}
