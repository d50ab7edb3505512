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

    public Tensor(params int[] shape) : this(new float[ArrayLength(shape)], shape) { }

    public int Rank => Shape.Length;
    public long Length => Data.LongLength;
    public int this[int dim] => Shape[dim];
    public Span<float> Span => Data;

    /// <summary>Number of elements of a shape. Shapes come from files (safetensors, ONNX, .pcm), so a product
    /// beyond long's range is refused (InvalidDataException naming the shape), never wrapped to a small or
    /// negative count that a later bounds check would wave through.</summary>
    public static long ShapeLength(ReadOnlySpan<int> shape)
    {
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension in shape {Format(shape)}");
            if (d == 0) return 0; // checked before multiplying: [huge, huge, 0] is empty, not an overflow
        }
        long n = 1;
        foreach (int d in shape)
        {
            if (n > long.MaxValue / d) throw new InvalidDataException($"shape {Format(shape)} has more elements than a 64-bit count holds");
            n *= d;
        }
        return n;
    }

    /// <summary><see cref="ShapeLength"/> as the length of one host array; larger shapes are an InvalidDataException.</summary>
    public static int ArrayLength(ReadOnlySpan<int> shape)
    {
        long n = ShapeLength(shape);
        if (n > Array.MaxLength) throw new InvalidDataException($"shape {Format(shape)} has {n} elements, more than one array holds ({Array.MaxLength})");
        return (int)n;
    }

    static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(",", shape.ToArray()) + "]";

    public string ShapeString => "[" + string.Join(",", Shape) + "]";
    public override string ToString() => $"Tensor{ShapeString}";
}
