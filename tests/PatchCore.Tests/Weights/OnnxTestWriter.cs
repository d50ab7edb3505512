using System.Text;

namespace PatchCore.Tests.Weights;

/// <summary>Tiny protobuf writer producing ONNX bytes for the converter tests (only the fields we read).</summary>
internal sealed class Pb
{
    readonly MemoryStream _ms = new();

    void Varint(ulong v)
    {
        while (v >= 0x80) { _ms.WriteByte((byte)(v | 0x80)); v >>= 7; }
        _ms.WriteByte((byte)v);
    }

    void Tag(int field, int wireType) => Varint((ulong)(field << 3 | wireType));
    public Pb Int(int field, long v) { Tag(field, 0); Varint((ulong)v); return this; }
    public Pb Float(int field, float v) { Tag(field, 5); _ms.Write(BitConverter.GetBytes(v)); return this; }
    public Pb Bytes(int field, byte[] b) { Tag(field, 2); Varint((ulong)b.Length); _ms.Write(b); return this; }
    public Pb Str(int field, string s) => Bytes(field, Encoding.UTF8.GetBytes(s));
    public Pb Msg(int field, Pb m) => Bytes(field, m.ToArray());

    public Pb PackedInts(int field, IEnumerable<long> v)
    {
        var inner = new Pb();
        foreach (long x in v) inner.Varint((ulong)x);
        return Bytes(field, inner.ToArray());
    }

    public Pb PackedFloats(int field, float[] v) => Bytes(field, v.SelectMany(BitConverter.GetBytes).ToArray());
    public byte[] ToArray() => _ms.ToArray();
}

/// <summary>Builds a small ONNX ResNet graph node by node (CNTK-style: downsample conv emitted first).</summary>
internal sealed class OnnxGraphBuilder
{
    readonly List<Pb> _nodes = [];
    readonly List<Pb> _inits = [];
    readonly Random _rng = new(5);
    int _id;
    public readonly Dictionary<string, float[]> Values = new();
    public string Input = "data";

    public string Name(string prefix) => $"{prefix}{++_id}";

    public string Init(int[] dims, bool raw = false, string? name = null)
    {
        name ??= Name("W");
        var v = Enumerable.Range(0, dims.Aggregate(1, (a, b) => a * b)).Select(_ => (float)_rng.NextDouble() + 0.1f).ToArray();
        Values[name] = v;
        var t = new Pb().PackedInts(1, dims.Select(d => (long)d)).Int(2, 1).Str(8, name);
        if (raw) t.Bytes(9, v.SelectMany(BitConverter.GetBytes).ToArray());
        else t.PackedFloats(4, v);
        _inits.Add(t);
        return name;
    }

    public static Pb Ints(string name, params long[] v) => new Pb().Str(1, name).PackedInts(8, v).Int(20, 7);
    public static Pb IntAttr(string name, long v) => new Pb().Str(1, name).Int(3, v).Int(20, 2);
    public static Pb FloatAttr(string name, float v) => new Pb().Str(1, name).Float(2, v).Int(20, 1);

    public string Node(string op, string[] inputs, params Pb[] attrs) => NodeNamed(op, Name(op), inputs, attrs);

    public string NodeNamed(string op, string name, string[] inputs, params Pb[] attrs)
    {
        string output = name + "_Output_0";
        var n = new Pb();
        foreach (var i in inputs) n.Str(1, i);
        n.Str(2, output).Str(3, name).Str(4, op);
        foreach (var a in attrs) n.Msg(5, a);
        _nodes.Add(n);
        return output;
    }

    /// <summary>Conv (no bias) + BatchNormalization; returns the BN output. Pads top, left, bottom, right.</summary>
    public string ConvBn(string x, int inC, int outC, int k, int stride, int[] pads, float eps = 1e-5f, bool raw = false,
        int? weightK = null)
    {
        int wk = weightK ?? k;
        string w = Init([outC, inC, wk, wk], raw);
        string c = Node("Conv", [x, w], Ints("kernel_shape", wk, wk), Ints("strides", stride, stride),
            Ints("pads", pads[0], pads[1], pads[2], pads[3]), IntAttr("group", 1), Ints("dilations", 1, 1));
        var bn = new[] { Init([outC]), Init([outC]), Init([outC]), Init([outC]) };
        return Node("BatchNormalization", [c, .. bn], FloatAttr("epsilon", eps));
    }

    public string Relu(string x) => Node("Relu", [x]);

    /// <summary>Stem + layer1 (one identity basic block, 64) + layer2 (one block 64→128 with downsample), pooled.</summary>
    public static OnnxGraphBuilder TinyResNet(Action<OnnxGraphBuilder, string>? beforePool = null, int stemKernel = 7)
    {
        var g = new OnnxGraphBuilder();
        string x = g.Relu(g.ConvBn(g.Input, 3, 64, 7, 2, [3, 3, 2, 2], weightK: stemKernel));
        x = g.Node("MaxPool", [x], Ints("kernel_shape", 3, 3), Ints("strides", 2, 2), Ints("pads", 1, 1, 0, 0));
        // layer1.0: identity shortcut.
        string m = g.Relu(g.ConvBn(x, 64, 64, 3, 1, [1, 1, 1, 1], raw: true));
        m = g.ConvBn(m, 64, 64, 3, 1, [1, 1, 1, 1]);
        x = g.Relu(g.Node("Add", [m, x]));
        // layer2.0: projection shortcut first (as CNTK emits it), main path stride 2 with pads 1,1,0,0.
        string sc = g.ConvBn(x, 64, 128, 1, 2, [0, 0, 0, 0]);
        m = g.Relu(g.ConvBn(x, 64, 128, 3, 2, [1, 1, 0, 0]));
        m = g.ConvBn(m, 128, 128, 3, 1, [1, 1, 1, 1]);
        x = g.Relu(g.Node("Add", [m, sc]));
        beforePool?.Invoke(g, x);
        string p = g.Node("GlobalAveragePool", [x]);
        string f = g.Node("Flatten", [p], IntAttr("axis", 1));
        g.Node("Gemm", [f, g.Init([10, 128]), g.Init([10])]);
        return g;
    }

    public byte[] ToBytes()
    {
        var graph = new Pb();
        foreach (var n in _nodes) graph.Msg(1, n);
        graph.Str(2, "tiny");
        foreach (var i in _inits) graph.Msg(5, i);
        graph.Msg(11, new Pb().Str(1, Input));
        graph.Msg(12, new Pb().Str(1, "out"));
        return new Pb().Int(1, 3).Str(2, "pcnative-tests").Msg(7, graph).ToArray();
    }

    public string Save(string dir, string name = "tiny.onnx")
    {
        string p = Path.Combine(dir, Guid.NewGuid().ToString("N")[..6] + "-" + name);
        File.WriteAllBytes(p, ToBytes());
        return p;
    }
}
