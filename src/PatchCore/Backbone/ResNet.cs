using PatchCore.Backends;
using PatchCore.Tensors;
using PatchCore.Weights;

namespace PatchCore.Backbone;

/// <summary>
/// An ImageNet ResNet (basic-block or bottleneck) built from a <see cref="WeightFile"/> on any backend:
/// BatchNorm folded into the convs at load, geometry read from the metadata.
/// </summary>
public sealed class ResNet : IDisposable
{
    /// <summary>One residual block: its convs in order (the last one takes the shortcut, then ReLU) and the
    /// optional 1x1 downsample of the shortcut.</summary>
    sealed record Block(ConvLayer[] Convs, ConvLayer? Downsample);

    static readonly string[] LayerNames = ["layer1", "layer2", "layer3", "layer4", "pool"];

    readonly IBackend backend;
    readonly ConvLayer stem;
    readonly PoolSpec maxPool;
    readonly Block[][] stages;

    ResNet(IBackend backend, WeightMetadata metadata, ConvLayer stem, PoolSpec maxPool, Block[][] stages)
    {
        this.backend = backend;
        Metadata = metadata;
        this.stem = stem;
        this.maxPool = maxPool;
        this.stages = stages;
    }

    public WeightMetadata Metadata { get; }

    /// <summary>Every conv of the net in execution order with its name (for FLOP counts and benchmarks).</summary>
    public IReadOnlyList<(string Name, ConvSpec Spec)> Convs { get; private set; } = [];

    /// <summary>Fold BatchNorm and prepare every conv on the backend.</summary>
    public static ResNet Load(IBackend backend, WeightFile weights)
    {
        var m = weights.Metadata;
        bool bottleneck = m.Block switch
        {
            "basic" => false,
            "bottleneck" => true,
            _ => throw new InvalidDataException($"weights: unknown block type '{m.Block}' (basic, bottleneck)"),
        };
        // 4 stages, or fewer for a file cut after layer3 (WeightFile.TruncateStages): PatchCore needs layer1-3 only.
        if (m.BlocksPerStage is not { Length: >= 1 and <= 4 } || m.BlocksPerStage.Any(b => b < 1))
            throw new InvalidDataException($"weights: BlocksPerStage must list 1 to 4 positive counts, got [{string.Join(",", m.BlocksPerStage ?? [])}]");

        var convs = new List<(string, ConvSpec)>();
        ConvLayer Make(string conv, string bn, int defaultStride)
        {
            var layer = FoldedConv(backend, weights, conv, bn, defaultStride);
            convs.Add((conv, layer.Spec));
            return layer;
        }

        var stem = Make("conv1", "bn1", 2);
        var mp = m.Geometry.TryGetValue("maxpool", out var g) ? g : new LayerGeometry(2, 1, 1, 1, 1);
        var maxPool = new PoolSpec(3, mp.Stride, mp.PadTop, mp.PadLeft, mp.PadBottom, mp.PadRight);

        var stages = new Block[m.BlocksPerStage.Length][];
        for (int s = 0; s < stages.Length; s++)
        {
            stages[s] = new Block[m.BlocksPerStage[s]];
            for (int b = 0; b < stages[s].Length; b++)
            {
                string p = $"layer{s + 1}.{b}";
                // torchvision v1.5: the stage's first block strides, on the 3x3 conv (conv2 of a bottleneck).
                int stride = s > 0 && b == 0 ? 2 : 1;
                ConvLayer[] blockConvs = bottleneck
                    ? [Make(p + ".conv1", p + ".bn1", 1), Make(p + ".conv2", p + ".bn2", stride), Make(p + ".conv3", p + ".bn3", 1)]
                    : [Make(p + ".conv1", p + ".bn1", stride), Make(p + ".conv2", p + ".bn2", 1)];
                ConvLayer? down = weights.Tensors.ContainsKey(p + ".downsample.0.weight")
                    ? Make(p + ".downsample.0", p + ".downsample.1", stride) : null;
                stages[s][b] = new Block(blockConvs, down);
            }
        }
        return new ResNet(backend, m, stem, maxPool, stages) { Convs = convs };
    }

    /// <summary>w' = w·g/sqrt(var+eps), b' = beta + (b − mean)·g/sqrt(var+eps), computed in double.</summary>
    static ConvLayer FoldedConv(IBackend backend, WeightFile weights, string conv, string bn, int defaultStride)
    {
        var w = weights.Get(conv + ".weight");
        if (w.Rank != 4) throw new InvalidDataException($"weights: '{conv}.weight' has shape {w.ShapeString}, expected [Cout, Cin, Kh, Kw]");
        int cout = w[0], cin = w[1], kh = w[2], kw = w[3];
        var gamma = Vector(weights, bn + ".weight", cout);
        var beta = Vector(weights, bn + ".bias", cout);
        var mean = Vector(weights, bn + ".running_mean", cout);
        var variance = Vector(weights, bn + ".running_var", cout);
        float[]? convBias = weights.Tensors.ContainsKey(conv + ".bias") ? Vector(weights, conv + ".bias", cout) : null;
        double eps = weights.Metadata.BatchNormEpsilon;

        int per = cin * kh * kw;
        var fw = new float[w.Length];
        var fb = new float[cout];
        for (int co = 0; co < cout; co++)
        {
            double scale = gamma[co] / Math.Sqrt(variance[co] + eps);
            for (int i = 0; i < per; i++) fw[co * per + i] = (float)(w.Data[co * per + i] * scale);
            fb[co] = (float)(beta[co] + ((convBias?[co] ?? 0.0) - mean[co]) * scale);
        }

        var geo = weights.Metadata.Geometry.TryGetValue(conv, out var g) ? g
            : new LayerGeometry(defaultStride, kh / 2, kw / 2, kh / 2, kw / 2);
        var spec = new ConvSpec(cin, cout, kh, kw, geo.Stride, geo.PadTop, geo.PadLeft, geo.PadBottom, geo.PadRight);
        return backend.CreateConv(spec, fw, fb);
    }

    static float[] Vector(WeightFile weights, string name, int length)
    {
        var t = weights.Get(name);
        if (t.Length != length) throw new InvalidDataException($"weights: '{name}' has shape {t.ShapeString}, expected [{length}]");
        return t.Data;
    }

    /// <summary>Output channels of "layer1".."layer4".</summary>
    public int Channels(string layer)
    {
        int i = Array.IndexOf(LayerNames, layer);
        if (i < 0 || i > 3) throw new ArgumentException($"unknown layer '{layer}' (layer1..layer4)");
        if (i >= stages.Length) throw new ArgumentException($"{layer}: the weights stop after layer{stages.Length}");
        return stages[i][^1].Convs[^1].Spec.OutChannels;
    }

    /// <summary>
    /// Runs input [N, 3, H, W] through the stem and the stages up to the deepest layer asked for, nothing after
    /// it, and returns the requested maps in request order. Names: "layer1".."layer4", and "pool" for the
    /// global-average-pooled final vector [N, C4].
    /// </summary>
    public DeviceTensor[] Forward(DeviceTensor input, params string[] layers)
    {
        if (layers.Length == 0) throw new ArgumentException("Forward: no layer requested");
        var index = new int[layers.Length];
        for (int i = 0; i < layers.Length; i++)
        {
            index[i] = Array.IndexOf(LayerNames, layers[i]);
            if (index[i] < 0) throw new ArgumentException($"unknown layer '{layers[i]}' (layer1..layer4, pool)");
        }
        int cin = stem.Spec.InChannels;
        if (input.Rank != 4 || input[1] != cin) throw new ArgumentException($"backbone input {input.ShapeString} is not [N, {cin}, H, W]");

        int deepest = index.Max();
        if (Math.Min(deepest, 3) >= stages.Length)
            throw new ArgumentException($"{LayerNames[deepest]} needs layer{Math.Min(deepest, 3) + 1}, but the weights stop after layer{stages.Length}");
        var outputs = new DeviceTensor?[LayerNames.Length];
        bool Wanted(int i) => Array.IndexOf(index, i) >= 0;
        try
        {
            var stemOut = backend.Conv2d(input, stem, relu: true);
            var cur = backend.MaxPool2d(stemOut, maxPool);
            stemOut.Dispose();
            for (int s = 0; s <= Math.Min(deepest, 3); s++)
            {
                foreach (var block in stages[s])
                {
                    var next = RunBlock(block, cur);
                    if (Array.IndexOf(outputs, cur) < 0) cur.Dispose(); // a requested stage output stays
                    cur = next;
                }
                // The deepest stage run is always kept: it is requested, or "pool" is made from it.
                if (Wanted(s) || s == Math.Min(deepest, 3)) outputs[s] = cur;
            }
            if (deepest == 4) outputs[4] = backend.GlobalAvgPool(outputs[3]!);
            for (int i = 0; i < outputs.Length; i++)
                if (outputs[i] != null && !Wanted(i)) { outputs[i]!.Dispose(); outputs[i] = null; }
            var result = new DeviceTensor[layers.Length];
            for (int i = 0; i < layers.Length; i++) result[i] = outputs[index[i]]!;
            return result;
        }
        catch
        {
            foreach (var o in outputs) o?.Dispose();
            throw;
        }
    }

    DeviceTensor RunBlock(Block block, DeviceTensor x)
    {
        var convs = block.Convs;
        var t = backend.Conv2d(x, convs[0], relu: true);
        for (int i = 1; i < convs.Length - 1; i++)
        {
            var u = backend.Conv2d(t, convs[i], relu: true);
            t.Dispose();
            t = u;
        }
        var shortcut = block.Downsample != null ? backend.Conv2d(x, block.Downsample) : x;
        // Residual add and ReLU fused into the block's last conv.
        var y = backend.Conv2d(t, convs[^1], residual: shortcut, relu: true);
        t.Dispose();
        if (!ReferenceEquals(shortcut, x)) shortcut.Dispose();
        return y;
    }

    public void Dispose()
    {
        stem.Dispose();
        foreach (var stage in stages)
        foreach (var b in stage)
        {
            foreach (var c in b.Convs) c.Dispose();
            b.Downsample?.Dispose();
        }
    }
}
