using System.Runtime.InteropServices;
using PatchCore.Tensors;

namespace PatchCore.Weights.Onnx;

/// <summary>The parts of an ONNX TensorProto we use: a named float tensor (converted from FLOAT, FLOAT16,
/// BFLOAT16 or DOUBLE; float_data/int32_data/double_data or raw_data).</summary>
public sealed record OnnxTensor(string Name, long[] Dims, int DataType, float[]? Data)
{
    public const int Float = 1, Float16 = 10, Double = 11, BFloat16 = 16;

    /// <summary>As a host tensor; throws if the element type is not floating point.</summary>
    public Tensor ToTensor() =>
        Data is null ? throw new InvalidDataException($"initializer '{Name}' has ONNX data type {DataType}, not a float type")
        : new Tensor(Data, Dims.Select(d => checked((int)d)).ToArray());
}

/// <summary>An ONNX AttributeProto: name and whichever of f / i / s / t / floats / ints / strings it carries.</summary>
public sealed record OnnxAttribute(string Name, float? F, long? I, string? S, OnnxTensor? T,
    float[] Floats, long[] Ints, string[] Strings);

/// <summary>An ONNX NodeProto.</summary>
public sealed record OnnxNode(string Name, string OpType, string[] Inputs, string[] Outputs,
    Dictionary<string, OnnxAttribute> Attributes)
{
    public long[]? Ints(string name) => Attributes.TryGetValue(name, out var a) ? a.Ints : null;
    public long? Int(string name) => Attributes.TryGetValue(name, out var a) ? a.I : null;
    public float? Float(string name) => Attributes.TryGetValue(name, out var a) ? a.F : null;
    public string? String(string name) => Attributes.TryGetValue(name, out var a) ? a.S : null;
    /// <summary>"Conv 'Convolution249'" — how errors name a node.</summary>
    public string Describe => $"{OpType} node '{Name}'";
}

/// <summary>An ONNX GraphProto: nodes in topological order, initializers, graph inputs and outputs (names).</summary>
public sealed record OnnxGraph(List<OnnxNode> Nodes, Dictionary<string, OnnxTensor> Initializers,
    List<string> Inputs, List<string> Outputs);

/// <summary>
/// Reads an ONNX ModelProto → GraphProto with our own protobuf wire-format reader (no ONNX or protobuf
/// library). Field numbers from onnx.proto: ModelProto.graph = 7; GraphProto node = 1, initializer = 5,
/// input = 11, output = 12; NodeProto input = 1, output = 2, name = 3, op_type = 4, attribute = 5;
/// AttributeProto name = 1, f = 2, i = 3, s = 4, t = 5, floats = 7, ints = 8, strings = 9;
/// TensorProto dims = 1, data_type = 2, float_data = 4, int32_data = 5, name = 8, raw_data = 9,
/// double_data = 10, data_location = 14; ValueInfoProto name = 1.
/// </summary>
public static class OnnxModel
{
    public static OnnxGraph Load(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        try
        {
            return Parse(bytes);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: not a valid ONNX model: {IO.ErrorText.OneLine(e.Message, 300)}", e); // names may hold any bytes
        }
    }

    public static OnnxGraph Parse(ReadOnlySpan<byte> model)
    {
        var r = new ProtoReader(model);
        OnnxGraph? graph = null;
        while (!r.End)
        {
            var (field, wt) = r.ReadTag();
            if (field == 7 && wt == ProtoReader.LengthDelimited) graph = ParseGraph(r.ReadBytes());
            else r.Skip(wt);
        }
        return graph ?? throw new InvalidDataException("no graph in the model (ModelProto field 7 missing)");
    }

    static OnnxGraph ParseGraph(ReadOnlySpan<byte> data)
    {
        var r = new ProtoReader(data);
        var nodes = new List<OnnxNode>();
        var inits = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
        var inputs = new List<string>();
        var outputs = new List<string>();
        while (!r.End)
        {
            var (field, wt) = r.ReadTag();
            switch (field)
            {
                case 1 when wt == ProtoReader.LengthDelimited: nodes.Add(ParseNode(r.ReadBytes())); break;
                case 5 when wt == ProtoReader.LengthDelimited:
                    var t = ParseTensor(r.ReadBytes());
                    inits[t.Name] = t;
                    break;
                case 11 when wt == ProtoReader.LengthDelimited: inputs.Add(ParseValueInfoName(r.ReadBytes())); break;
                case 12 when wt == ProtoReader.LengthDelimited: outputs.Add(ParseValueInfoName(r.ReadBytes())); break;
                default: r.Skip(wt); break;
            }
        }
        return new OnnxGraph(nodes, inits, inputs, outputs);
    }

    static string ParseValueInfoName(ReadOnlySpan<byte> data)
    {
        var r = new ProtoReader(data);
        string name = "";
        while (!r.End)
        {
            var (field, wt) = r.ReadTag();
            if (field == 1 && wt == ProtoReader.LengthDelimited) name = r.ReadString();
            else r.Skip(wt);
        }
        return name;
    }

    static OnnxNode ParseNode(ReadOnlySpan<byte> data)
    {
        var r = new ProtoReader(data);
        var inputs = new List<string>();
        var outputs = new List<string>();
        string name = "", op = "";
        var attrs = new Dictionary<string, OnnxAttribute>(StringComparer.Ordinal);
        while (!r.End)
        {
            var (field, wt) = r.ReadTag();
            if (wt != ProtoReader.LengthDelimited) { r.Skip(wt); continue; }
            switch (field)
            {
                case 1: inputs.Add(r.ReadString()); break;
                case 2: outputs.Add(r.ReadString()); break;
                case 3: name = r.ReadString(); break;
                case 4: op = r.ReadString(); break;
                case 5:
                    var a = ParseAttribute(r.ReadBytes());
                    attrs[a.Name] = a;
                    break;
                default: r.Skip(wt); break;
            }
        }
        if (op.Length == 0) throw new InvalidDataException($"node '{name}' has no op_type");
        return new OnnxNode(name, op, inputs.ToArray(), outputs.ToArray(), attrs);
    }

    static OnnxAttribute ParseAttribute(ReadOnlySpan<byte> data)
    {
        var r = new ProtoReader(data);
        string name = "";
        float? f = null;
        long? i = null;
        string? s = null;
        OnnxTensor? t = null;
        var floats = new List<float>();
        var ints = new List<long>();
        var strings = new List<string>();
        while (!r.End)
        {
            var (field, wt) = r.ReadTag();
            switch (field)
            {
                case 1 when wt == ProtoReader.LengthDelimited: name = r.ReadString(); break;
                case 2 when wt == ProtoReader.Fixed32: f = r.ReadFloat(); break;
                case 3 when wt == ProtoReader.Varint: i = r.ReadInt64(); break;
                case 4 when wt == ProtoReader.LengthDelimited: s = r.ReadString(); break;
                case 5 when wt == ProtoReader.LengthDelimited: t = ParseTensor(r.ReadBytes()); break;
                case 7: r.ReadFloats(wt, floats); break;
                case 8: r.ReadInt64s(wt, ints); break;
                case 9 when wt == ProtoReader.LengthDelimited: strings.Add(r.ReadString()); break;
                default: r.Skip(wt); break;
            }
        }
        return new OnnxAttribute(name, f, i, s, t, floats.ToArray(), ints.ToArray(), strings.ToArray());
    }

    static OnnxTensor ParseTensor(ReadOnlySpan<byte> data)
    {
        var r = new ProtoReader(data);
        var dims = new List<long>();
        int dataType = 0;
        string name = "";
        var floatData = new List<float>();
        var int32Data = new List<long>();
        var doubleData = new List<double>();
        ReadOnlySpan<byte> raw = default;
        bool hasRaw = false, external = false;
        while (!r.End)
        {
            var (field, wt) = r.ReadTag();
            switch (field)
            {
                case 1: r.ReadInt64s(wt, dims); break;
                case 2 when wt == ProtoReader.Varint: dataType = (int)r.ReadInt64(); break;
                case 4: r.ReadFloats(wt, floatData); break;
                case 5: r.ReadInt64s(wt, int32Data); break;
                case 8 when wt == ProtoReader.LengthDelimited: name = r.ReadString(); break;
                case 9 when wt == ProtoReader.LengthDelimited: raw = r.ReadBytes(); hasRaw = true; break;
                case 10: r.ReadDoubles(wt, doubleData); break;
                case 14 when wt == ProtoReader.Varint: external = r.ReadInt64() == 1; break;
                default: r.Skip(wt); break;
            }
        }
        if (external) throw new InvalidDataException($"initializer '{name}' uses external data, which is not supported");
        foreach (long d in dims)
            if (d < 0 || d > int.MaxValue) throw new InvalidDataException($"tensor '{name}' has invalid dimension {d}");
        // Checked, not wrapped: many large dims must not multiply around to a small count that passes.
        long count = dims.Contains(0) ? 0 : 1;
        foreach (long d in dims)
        {
            if (count > Array.MaxLength / Math.Max(d, 1)) throw new InvalidDataException($"tensor '{name}' dims [{string.Join(",", dims)}] are too large");
            count *= d;
        }
        float[]? values = dataType switch
        {
            OnnxTensor.Float => hasRaw ? RawFloats(raw, 4, count, name, b => BitConverter.ToSingle(b))
                : floatData.ToArray(),
            OnnxTensor.Double => hasRaw ? RawFloats(raw, 8, count, name, b => (float)BitConverter.ToDouble(b))
                : doubleData.Select(v => (float)v).ToArray(),
            OnnxTensor.Float16 => hasRaw ? RawFloats(raw, 2, count, name, b => (float)BitConverter.ToHalf(b))
                : int32Data.Select(v => (float)BitConverter.UInt16BitsToHalf((ushort)v)).ToArray(),
            OnnxTensor.BFloat16 => hasRaw ? RawFloats(raw, 2, count, name, b => BitConverter.Int32BitsToSingle(BitConverter.ToUInt16(b) << 16))
                : int32Data.Select(v => BitConverter.Int32BitsToSingle((int)(v & 0xFFFF) << 16)).ToArray(),
            _ => null,
        };
        if (values != null && values.Length != count)
            throw new InvalidDataException($"tensor '{name}' has dims [{string.Join(",", dims)}] = {count} values but holds {values.Length}");
        return new OnnxTensor(name, dims.ToArray(), dataType, values);
    }

    delegate float Convert(ReadOnlySpan<byte> b);

    static float[] RawFloats(ReadOnlySpan<byte> raw, int size, long count, string name, Convert convert)
    {
        if (raw.Length != count * size)
            throw new InvalidDataException($"tensor '{name}' raw_data has {raw.Length} bytes, {count} values need {count * size}");
        var result = new float[count];
        if (size == 4 && BitConverter.IsLittleEndian)
        {
            raw.CopyTo(MemoryMarshal.AsBytes(result.AsSpan()));
            return result;
        }
        for (int i = 0; i < result.Length; i++) result[i] = convert(raw.Slice(i * size, size));
        return result;
    }
}
