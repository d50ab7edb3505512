namespace PatchCore.Backends;

/// <summary>
/// A tensor that lives where its backend computes: a managed array for the CPU backends, device memory for
/// the GPU ones. Created only by its backend (Allocate / Upload); read back with <see cref="IBackend.Download"/>.
/// Dispose releases device memory; for CPU backends it is a no-op.
/// </summary>
public abstract class DeviceTensor : IDisposable
{
    protected DeviceTensor(int[] shape)
    {
        Shape = (int[])shape.Clone();
        Length = Tensors.Tensor.ShapeLength(shape);
    }

    public int[] Shape { get; }
    public long Length { get; }
    public int Rank => Shape.Length;
    public int this[int dim] => Shape[dim];
    public string ShapeString => "[" + string.Join(",", Shape) + "]";

    public virtual void Dispose() { GC.SuppressFinalize(this); }
}

/// <summary>DeviceTensor of the CPU backends: the data is a plain managed array.</summary>
public sealed class HostDeviceTensor : DeviceTensor
{
    public HostDeviceTensor(float[] data, int[] shape) : base(shape)
    {
        if (data.LongLength < Length) throw new ArgumentException("host tensor buffer too small");
        Data = data;
    }
    public float[] Data { get; }
    public Span<float> Span => Data.AsSpan(0, checked((int)Length));

    /// <summary>Set by <see cref="HostMemory.Rent"/>: Dispose hands the array back for the next op's output
    /// (as device memory is freed on a GPU: the data of a disposed tensor must not be used).</summary>
    internal bool Pooled { get; init; }
    int disposed;

    public override void Dispose()
    {
        // Only once: a double Dispose must not give the same array to two future tensors.
        if (Pooled && Interlocked.Exchange(ref disposed, 1) == 0) HostMemory.Return(Data);
        base.Dispose();
    }
}
