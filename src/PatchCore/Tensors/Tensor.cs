namespace PatchCore.Tensors;

/// <summary>
/// A dense float32 tensor in host memory, row-major (NCHW for images and feature maps, [rows, cols] for
/// feature matrices). The one container that crosses stage boundaries on the host.
/// </summary>
public sealed class Tensor
{
    public int[] Shape { get; }
    public float[] Data { get; }

    public Tensor(float[] data, params int[] shape)
    {
        long n = ShapeLength(shape);
        if (data.Length != n)
            throw new ArgumentException($"tensor data has {data.Length} values, shape [{string.Join(",", shape)}] needs {n}");
        Data = data;
        Shape = (int[])shape.Clone();
    }

    public Tensor(params int[] shape) : this(new float[ShapeLength(shape)], shape) { }

    public int Rank => Shape.Length;
    public long Length => Data.LongLength;
    public int this[int dim] => Shape[dim];
    public Span<float> Span => Data;

    public static long ShapeLength(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException("negative dimension in shape");
            n *= d;
        }
        return n;
    }

    public string ShapeString => "[" + string.Join(",", Shape) + "]";
    public override string ToString() => $"Tensor{ShapeString}";
}
