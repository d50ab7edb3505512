using PatchCore.Tensors;

namespace PatchCore.Weights;

/// <summary>One conv of a ResNet with its BatchNorm, torchvision's default geometry (stride, symmetric pad)
/// and shapes. <see cref="WeightValidation.GeometryOf"/> gives the geometry the weight file actually asks for.</summary>
public sealed record ResNetConv(string Conv, string BatchNorm, int InChannels, int OutChannels, int Kernel,
    int DefaultStride, int DefaultPad)
{
    public int[] WeightShape => [OutChannels, InChannels, Kernel, Kernel];
}

/// <summary>A tensor a ResNet of given metadata needs, with its shape.</summary>
public sealed record ExpectedTensor(string Name, int[] Shape);

/// <summary>
/// The tensors (torchvision names and shapes) a ResNet described by <see cref="WeightMetadata"/> needs, and the
/// checks that a weight file has them. Layout as torchvision: stem conv1 (7x7, stride 2, 64 channels) + bn1 +
/// 3x3/2 max-pool, then stages layer1..layerN; stage s>1 halves the resolution in its first block.
/// Basic block: conv1 3x3 (stride), conv2 3x3. Bottleneck (torchvision v1.5): conv1 1x1, conv2 3x3 (stride),
/// conv3 1x1 to the stage width. Block 0 of a stage has downsample.0 (1x1 conv, stride) + downsample.1 (BN)
/// when the stride is not 1 or the channel count changes.
/// Bottleneck inner width: NOT stored in the metadata; it is read from the file's layer{s}.0.conv1.weight
/// (dim 0), so ResNet50 (width = planes) and wide_resnet50_2 (width_per_group 128: width = 2 x planes) need no
/// extra key; every other block of the stage is then checked against that width. Without that tensor the
/// default planes = StageWidth/4 is assumed (and the missing tensor is reported).
/// </summary>
public static class WeightValidation
{
    /// <summary>Output channels of the stem (conv1), 64 in every torchvision and CNTK ResNet.</summary>
    public const int StemWidth = 64;

    public const int MaxBlocksPerStage = 256, MaxStageWidth = 1 << 16;

    public static readonly string[] BatchNormParts = ["weight", "bias", "running_mean", "running_var"];

    /// <summary>Stride of a stage's first block: 1 for layer1, 2 after.</summary>
    public static int StageStride(int stage) => stage == 0 ? 1 : 2;

    /// <summary>Inner (3x3) width of a bottleneck stage; see the class comment.</summary>
    public static int BottleneckWidth(WeightMetadata m, int stage, IReadOnlyDictionary<string, Tensor>? tensors)
    {
        if (tensors != null && tensors.TryGetValue($"layer{stage + 1}.0.conv1.weight", out var t) && t.Rank == 4 && t.Shape[0] > 0)
            return t.Shape[0];
        return m.StageWidths[stage] / 4;
    }

    /// <summary>Every conv of the net in execution order (downsample after the block's main convs).</summary>
    public static IReadOnlyList<ResNetConv> Convs(WeightMetadata m, IReadOnlyDictionary<string, Tensor>? tensors = null)
    {
        var list = new List<ResNetConv> { new("conv1", "bn1", 3, StemWidth, 7, 2, 3) };
        bool bottleneck = m.Block == "bottleneck";
        int inC = StemWidth;
        for (int s = 0; s < m.BlocksPerStage.Length; s++)
        {
            int outC = m.StageWidths[s];
            int inner = bottleneck ? BottleneckWidth(m, s, tensors) : outC;
            for (int b = 0; b < m.BlocksPerStage[s]; b++)
            {
                string p = $"layer{s + 1}.{b}.";
                int stride = b == 0 ? StageStride(s) : 1;
                if (bottleneck)
                {
                    list.Add(new(p + "conv1", p + "bn1", inC, inner, 1, 1, 0));
                    list.Add(new(p + "conv2", p + "bn2", inner, inner, 3, stride, 1));
                    list.Add(new(p + "conv3", p + "bn3", inner, outC, 1, 1, 0));
                }
                else
                {
                    list.Add(new(p + "conv1", p + "bn1", inC, outC, 3, stride, 1));
                    list.Add(new(p + "conv2", p + "bn2", outC, outC, 3, 1, 1));
                }
                if (b == 0 && (stride != 1 || inC != outC))
                    list.Add(new(p + "downsample.0", p + "downsample.1", inC, outC, 1, stride, 0));
                inC = outC;
            }
        }
        return list;
    }

    /// <summary>Whether block 0 of stage <paramref name="stage"/> (0-based) has a downsample branch.</summary>
    public static bool HasDownsample(WeightMetadata m, int stage)
    {
        int inC = stage == 0 ? StemWidth : m.StageWidths[stage - 1];
        return StageStride(stage) != 1 || inC != m.StageWidths[stage];
    }

    /// <summary>Geometry of a conv ("layer2.0.conv1") or "maxpool": the metadata's entry if present, else torchvision's.</summary>
    public static LayerGeometry GeometryOf(WeightMetadata m, ResNetConv conv) =>
        m.Geometry.TryGetValue(conv.Conv, out var g) ? g
        : new LayerGeometry(conv.DefaultStride, conv.DefaultPad, conv.DefaultPad, conv.DefaultPad, conv.DefaultPad);

    /// <summary>The 3x3 stride-2 max-pool's geometry: the metadata's "maxpool" entry, else torchvision's (pad 1).</summary>
    public static LayerGeometry MaxPoolGeometry(WeightMetadata m) =>
        m.Geometry.TryGetValue("maxpool", out var g) ? g : new LayerGeometry(2, 1, 1, 1, 1);

    /// <summary>Torchvision's geometry written out for every conv and the max-pool (what we store for
    /// torchvision weights, so the file says exactly what it means).</summary>
    public static Dictionary<string, LayerGeometry> TorchvisionGeometry(WeightMetadata m)
    {
        var g = new Dictionary<string, LayerGeometry>(StringComparer.Ordinal) { ["maxpool"] = new(2, 1, 1, 1, 1) };
        foreach (var c in Convs(m))
            g[c.Conv] = new LayerGeometry(c.DefaultStride, c.DefaultPad, c.DefaultPad, c.DefaultPad, c.DefaultPad);
        return g;
    }

    /// <summary>Every tensor the net needs (fc.* is never needed: PatchCore stops at layer3 / the pooled vector).</summary>
    public static IReadOnlyList<ExpectedTensor> ExpectedTensors(WeightMetadata m, IReadOnlyDictionary<string, Tensor>? tensors = null)
    {
        var list = new List<ExpectedTensor>();
        foreach (var c in Convs(m, tensors))
        {
            list.Add(new(c.Conv + ".weight", c.WeightShape));
            foreach (var part in BatchNormParts) list.Add(new($"{c.BatchNorm}.{part}", [c.OutChannels]));
        }
        return list;
    }

    /// <summary>Check the metadata's own consistency. Throws InvalidDataException naming the file.</summary>
    public static void ValidateMetadata(WeightMetadata m, string file)
    {
        string? problem = null;
        if (m.Block is not ("basic" or "bottleneck")) problem = $"block '{m.Block}' is neither 'basic' nor 'bottleneck'";
        else if (m.BlocksPerStage.Length is < 1 or > 4 || m.BlocksPerStage.Length != m.StageWidths.Length)
            problem = $"blocks_per_stage [{string.Join(",", m.BlocksPerStage)}] and stage_widths [{string.Join(",", m.StageWidths)}] must both list 1 to 4 stages";
        else if (m.BlocksPerStage.Any(b => b < 1) || m.StageWidths.Any(w => w < 1))
            problem = "blocks_per_stage and stage_widths must be positive";
        // Bounds far above any ResNet (ResNet152: 36 blocks, widths up to 2048) that keep the expected-tensor
        // list and its shapes small: a corrupt count must not make us enumerate billions of convs.
        else if (m.BlocksPerStage.Any(b => b > MaxBlocksPerStage) || m.StageWidths.Any(w => w > MaxStageWidth))
            problem = $"blocks_per_stage [{string.Join(",", m.BlocksPerStage)}] or stage_widths [{string.Join(",", m.StageWidths)}] exceed {MaxBlocksPerStage} blocks / {MaxStageWidth} channels";
        else if (m.ChannelOrder is not ("RGB" or "BGR")) problem = $"channel_order '{m.ChannelOrder}' is neither RGB nor BGR";
        else if (!(m.PixelScale > 0) || float.IsInfinity(m.PixelScale)) problem = $"pixel_scale {m.PixelScale} is not positive";
        else if (m.Mean.Length != 3 || m.Std.Length != 3) problem = "mean and std need 3 values each";
        else if (m.Std.Any(s => !(s != 0) || !float.IsFinite(s)) || m.Mean.Any(v => !float.IsFinite(v))) problem = "mean/std must be finite, std non-zero";
        else if (!(m.BatchNormEpsilon >= 0)) problem = $"batchnorm_epsilon {m.BatchNormEpsilon} is negative";
        else
        {
            foreach (var (k, g) in m.Geometry)
                if (g.Stride < 1 || g.PadTop < 0 || g.PadLeft < 0 || g.PadBottom < 0 || g.PadRight < 0)
                    problem ??= $"geometry of '{k}' has stride {g.Stride} / negative pads";
        }
        if (problem != null) throw new InvalidDataException($"{file}: weight metadata: {problem}");
    }

    /// <summary>Check that every tensor the net needs is present with the right shape; one error naming the
    /// first offending tensor, the file, and the expected vs found shape.</summary>
    public static void Validate(WeightMetadata m, IReadOnlyDictionary<string, Tensor> tensors, string file)
    {
        ValidateMetadata(m, file);
        foreach (var e in ExpectedTensors(m, tensors))
        {
            if (!tensors.TryGetValue(e.Name, out var t))
                throw new InvalidDataException($"{file}: missing tensor '{e.Name}' (expected shape [{string.Join(",", e.Shape)}] for a {m.Block} ResNet with blocks [{string.Join(",", m.BlocksPerStage)}])");
            if (!t.Shape.AsSpan().SequenceEqual(e.Shape))
                throw new InvalidDataException($"{file}: tensor '{e.Name}' has shape {t.ShapeString}, expected [{string.Join(",", e.Shape)}]");
            CheckFinite(t, e.Name, file);
        }
    }

    /// <summary>A NaN or infinity in any weight the net uses turns every score into NaN, and the run would
    /// only fail at the end ("score 0 is NaN"); found at load it names the file, the tensor and the element.</summary>
    public static void CheckFinite(Tensor t, string name, string file)
    {
        var span = t.Span;
        for (int i = 0; i < span.Length; i++)
        {
            if (float.IsFinite(span[i])) continue;
            throw new InvalidDataException($"{file}: tensor '{name}' holds {span[i]} at element {i}: the weights are damaged (every weight must be a finite number)");
        }
    }
}
