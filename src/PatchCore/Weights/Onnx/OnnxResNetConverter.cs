using PatchCore.Tensors;

namespace PatchCore.Weights.Onnx;

/// <summary>
/// Converts an ONNX ResNet (basic or bottleneck blocks) to a pcnative <see cref="WeightFile"/> by reading the
/// structure from the graph, never assuming it:
/// stem = Conv → BatchNormalization → Relu → MaxPool; then residual blocks, each discovered from its Add node:
/// every branch leaving the block input is followed through Conv/BatchNormalization/Relu to the Add it reaches;
/// the branch with 2 convs (basic) or 3 convs (bottleneck) is the main path, a 1-conv branch is the projection
/// shortcut (downsample), and the block input feeding the Add directly is the identity shortcut. A block with a
/// downsample (or the first block) starts a new stage. After the blocks comes AveragePool/GlobalAveragePool and
/// only benign classifier-tail ops (Flatten, Reshape, Gemm, ...), which are ignored.
/// Tensors are named torchvision-style; each conv's stride and pads and the max-pool's are recorded as written
/// (ONNX pads [top, left, bottom, right]); BN epsilon comes from the nodes.
/// </summary>
public static class OnnxResNetConverter
{
    static readonly HashSet<string> BackboneOps = ["Conv", "BatchNormalization", "Relu", "MaxPool", "Add", "Constant"];
    static readonly HashSet<string> PoolOps = ["AveragePool", "GlobalAveragePool"];
    /// <summary>Classifier-tail ops after the pooled vector: not needed by PatchCore, ignored.</summary>
    static readonly HashSet<string> TailOps =
        ["Flatten", "Reshape", "Gemm", "MatMul", "Add", "Identity", "Softmax", "Squeeze", "Unsqueeze", "Dropout", "Transpose"];

    sealed record ConvBn(OnnxNode Conv, OnnxNode Bn, Tensor Weight, Tensor[] BnTensors, float Epsilon,
        LayerGeometry Geometry);

    /// <param name="normalization">Input normalisation (e.g. from <see cref="OnnxPreprocess.Read"/>).</param>
    public static WeightFile Convert(string path, string architecture, InputNormalization normalization, string source = "")
    {
        var g = OnnxModel.Load(path);
        try
        {
            return new Walker(g, path).Run(architecture, normalization, source);
        }
        catch (InvalidDataException e)
        {
            // Node and tensor names in the messages come from the file and may hold newlines or NULs.
            throw new InvalidDataException(IO.ErrorText.OneLine(e.Message, 1000), e);
        }
    }

    sealed class Walker(OnnxGraph g, string path)
    {
        readonly Dictionary<string, List<OnnxNode>> _consumers = BuildConsumers(g);
        readonly Dictionary<string, OnnxTensor> _consts = BuildConstants(g);
        readonly HashSet<OnnxNode> _visited = [];
        readonly Dictionary<string, Tensor> _tensors = new(StringComparer.Ordinal);
        readonly Dictionary<string, LayerGeometry> _geometry = new(StringComparer.Ordinal);
        float? _epsilon;

        InvalidDataException Bad(string problem) => new($"{path}: {problem}");

        static Dictionary<string, List<OnnxNode>> BuildConsumers(OnnxGraph g)
        {
            var d = new Dictionary<string, List<OnnxNode>>(StringComparer.Ordinal);
            foreach (var n in g.Nodes)
                foreach (var i in n.Inputs)
                {
                    if (i.Length == 0) continue;
                    if (!d.TryGetValue(i, out var l)) d[i] = l = [];
                    if (!l.Contains(n)) l.Add(n);
                }
            return d;
        }

        static Dictionary<string, OnnxTensor> BuildConstants(OnnxGraph g)
        {
            var d = new Dictionary<string, OnnxTensor>(g.Initializers, StringComparer.Ordinal);
            foreach (var n in g.Nodes)
                if (n.OpType == "Constant" && n.Outputs.Length == 1 && n.Attributes.TryGetValue("value", out var a) && a.T != null)
                    d[n.Outputs[0]] = a.T;
            return d;
        }

        List<OnnxNode> Consumers(string tensor) => _consumers.TryGetValue(tensor, out var l) ? l : [];

        OnnxNode Sole(string tensor, string after, params string[] ops)
        {
            var c = Consumers(tensor);
            if (c.Count != 1)
                throw Bad($"expected one {string.Join("/", ops)} after {after}, found {c.Count} consumers of '{tensor}'");
            if (!ops.Contains(c[0].OpType))
                throw Bad($"expected {string.Join("/", ops)} after {after}, found {c[0].Describe}");
            return c[0];
        }

        Tensor Init(OnnxNode n, int input, string what)
        {
            if (n.Inputs.Length <= input || !_consts.TryGetValue(n.Inputs[input], out var t))
                throw Bad($"{n.Describe}: {what} (input {input}) is not an initializer");
            return t.ToTensor();
        }

        public WeightFile Run(string architecture, InputNormalization norm, string source)
        {
            foreach (var n in g.Nodes)
                if (!BackboneOps.Contains(n.OpType) && !PoolOps.Contains(n.OpType) && !TailOps.Contains(n.OpType))
                    throw Bad($"unsupported op '{n.OpType}' in node '{n.Name}' (a ResNet has only Conv, BatchNormalization, Relu, MaxPool, Add and pooling)");
            var inputs = g.Inputs.Where(i => !_consts.ContainsKey(i)).ToList();
            if (inputs.Count != 1) throw Bad($"expected one graph input, found {inputs.Count}");

            // Stem.
            var stemConv = Sole(inputs[0], $"graph input '{inputs[0]}'", "Conv");
            var stem = ReadConvBn(stemConv);
            Store("conv1", "bn1", stem);
            var relu = Sole(stem.Bn.Outputs[0], stem.Bn.Describe, "Relu");
            _visited.Add(relu);
            var pool = Sole(relu.Outputs[0], relu.Describe, "MaxPool");
            _visited.Add(pool);
            if (pool.Ints("kernel_shape") is not [3, 3]) throw Bad($"{pool.Describe}: kernel {Fmt(pool.Ints("kernel_shape"))}, expected 3x3");
            _geometry["maxpool"] = Geometry(pool);

            // Residual blocks.
            string current = pool.Outputs[0];
            string? blockType = null;
            var blocksPerStage = new List<int>();
            var stageWidths = new List<int>();
            int inC = stem.Weight.Shape[0];
            while (true)
            {
                var cons = Consumers(current);
                if (cons.Count == 1 && PoolOps.Contains(cons[0].OpType)) { _visited.Add(cons[0]); break; }
                if (cons.Count == 0) throw Bad($"graph ends at '{current}' without a pooling node");

                var (main, shortcut, add) = ReadBlock(current, cons);
                string type = main.Count == 2 ? "basic" : main.Count == 3 ? "bottleneck"
                    : throw Bad($"residual block at {add.Describe} has {main.Count} convs on its main path (expected 2 or 3)");
                if (blockType != null && type != blockType)
                    throw Bad($"residual block at {add.Describe} is {type}, earlier blocks are {blockType}");
                blockType = type;
                bool newStage = blocksPerStage.Count == 0 || shortcut != null;
                if (newStage) { blocksPerStage.Add(0); stageWidths.Add(main[^1].Weight.Shape[0]); }
                int s = blocksPerStage.Count, b = blocksPerStage[^1]++;
                int outC = main[^1].Weight.Shape[0];
                if (outC != stageWidths[^1]) throw Bad($"block layer{s}.{b} ({add.Describe}) outputs {outC} channels, its stage {stageWidths[^1]}");
                if (main[0].Weight.Shape[1] != inC) throw Bad($"block layer{s}.{b} ({main[0].Conv.Describe}) takes {main[0].Weight.Shape[1]} channels, previous block gives {inC}");
                if (shortcut == null && inC != outC) throw Bad($"block layer{s}.{b} ({add.Describe}) changes channels {inC}→{outC} with an identity shortcut");
                string p = $"layer{s}.{b}.";
                for (int i = 0; i < main.Count; i++) Store($"{p}conv{i + 1}", $"{p}bn{i + 1}", main[i]);
                if (shortcut != null) Store(p + "downsample.0", p + "downsample.1", shortcut);
                inC = outC;
                var after = Sole(add.Outputs[0], add.Describe, "Relu");
                _visited.Add(after);
                current = after.Outputs[0];
            }
            if (blockType == null) throw Bad("no residual blocks found");
            if (blocksPerStage.Count > 4) throw Bad($"found {blocksPerStage.Count} stages, a ResNet has at most 4");

            foreach (var n in g.Nodes)
                if (!_visited.Contains(n) && n.OpType != "Constant" && !TailOps.Contains(n.OpType))
                    throw Bad($"{n.Describe} is not part of the ResNet structure (stem, residual blocks, pooling)");

            var metadata = new WeightMetadata
            {
                Architecture = architecture,
                Block = blockType,
                BlocksPerStage = blocksPerStage.ToArray(),
                StageWidths = stageWidths.ToArray(),
                ChannelOrder = norm.ChannelOrder,
                PixelScale = norm.PixelScale,
                Mean = norm.Mean,
                Std = norm.Std,
                BatchNormEpsilon = _epsilon ?? 1e-5f,
                Geometry = _geometry,
                Source = source,
            };
            // The layout we discovered must be the one the metadata describes (downsample exactly where
            // torchvision's layout has one), or the backbone would silently skip or miss a branch.
            for (int s = 0; s < blocksPerStage.Count; s++)
            {
                bool has = _tensors.ContainsKey($"layer{s + 1}.0.downsample.0.weight");
                if (has != WeightValidation.HasDownsample(metadata, s))
                    throw Bad($"layer{s + 1}.0 {(has ? "has" : "lacks")} a projection shortcut where a torchvision-style ResNet {(has ? "has none" : "needs one")}");
            }
            WeightValidation.Validate(metadata, _tensors, path);
            return new WeightFile(metadata, _tensors);
        }

        /// <summary>Follow every branch leaving <paramref name="input"/> to the residual Add.</summary>
        (List<ConvBn> Main, ConvBn? Shortcut, OnnxNode Add) ReadBlock(string input, List<OnnxNode> consumers)
        {
            var branches = new List<(List<ConvBn> Convs, OnnxNode Add)>();
            OnnxNode? identityAdd = null;
            foreach (var c in consumers)
            {
                if (c.OpType == "Add") { identityAdd = c; continue; }
                if (c.OpType != "Conv") throw Bad($"expected Conv or Add after '{input}', found {c.Describe}");
                var convs = new List<ConvBn>();
                var node = c;
                while (true)
                {
                    var cb = ReadConvBn(node);
                    convs.Add(cb);
                    var next = Sole(cb.Bn.Outputs[0], cb.Bn.Describe, "Relu", "Add");
                    if (next.OpType == "Add") { branches.Add((convs, next)); break; }
                    _visited.Add(next);
                    node = Sole(next.Outputs[0], next.Describe, "Conv");
                }
            }
            if (branches.Count == 0) throw Bad($"no conv branch leaves '{input}'");
            var add = branches[0].Add;
            if (branches.Any(br => br.Add != add) || (identityAdd != null && identityAdd != add))
                throw Bad($"branches leaving '{input}' end in different Add nodes");
            if (add.Inputs.Length != 2) throw Bad($"{add.Describe} has {add.Inputs.Length} inputs, expected 2");
            _visited.Add(add);
            if (identityAdd != null)
            {
                if (branches.Count != 1) throw Bad($"{add.Describe}: identity shortcut plus {branches.Count} conv branches");
                return (branches[0].Convs, null, add);
            }
            if (branches.Count != 2) throw Bad($"{add.Describe}: {branches.Count} branches, expected main path and shortcut");
            var ordered = branches.OrderBy(b => b.Convs.Count).ToList();
            if (ordered[0].Convs.Count != 1) throw Bad($"{add.Describe}: shortcut branch has {ordered[0].Convs.Count} convs, expected 1");
            return (ordered[1].Convs, ordered[0].Convs[0], add);
        }

        ConvBn ReadConvBn(OnnxNode conv)
        {
            _visited.Add(conv);
            var w = Init(conv, 1, "weight");
            if (w.Rank != 4) throw Bad($"{conv.Describe}: weight {w.ShapeString} is not 4-D");
            if ((conv.Int("group") ?? 1) != 1) throw Bad($"{conv.Describe}: grouped convolution (group {conv.Int("group")}) is not supported");
            if (conv.Ints("dilations") is { } dil && dil.Any(d => d != 1)) throw Bad($"{conv.Describe}: dilations {Fmt(dil)} are not supported");
            if (conv.Ints("kernel_shape") is { } ks && (ks.Length != 2 || ks[0] != w.Shape[2] || ks[1] != w.Shape[3]))
                throw Bad($"{conv.Describe}: kernel_shape {Fmt(ks)} disagrees with weight {w.ShapeString}");
            if (w.Shape[2] != w.Shape[3]) throw Bad($"{conv.Describe}: non-square kernel {w.ShapeString}");
            var geometry = Geometry(conv);
            Tensor? bias = conv.Inputs.Length > 2 && conv.Inputs[2].Length > 0 ? Init(conv, 2, "bias") : null;

            var bn = Sole(conv.Outputs[0], conv.Describe, "BatchNormalization");
            _visited.Add(bn);
            int c = w.Shape[0];
            var parts = new Tensor[4];
            for (int i = 0; i < 4; i++)
            {
                parts[i] = Init(bn, i + 1, WeightValidation.BatchNormParts[i]);
                if (parts[i].Length != c) throw Bad($"{bn.Describe}: {WeightValidation.BatchNormParts[i]} has {parts[i].Length} values, conv has {c} channels");
                parts[i] = new Tensor((float[])parts[i].Data.Clone(), c);
            }
            float eps = bn.Float("epsilon") ?? 1e-5f;
            // A conv bias b folds exactly into the BN that follows: BN(x + b) uses running_mean - b.
            if (bias != null)
            {
                if (bias.Length != c) throw Bad($"{conv.Describe}: bias has {bias.Length} values for {c} channels");
                for (int i = 0; i < c; i++) parts[2].Data[i] -= bias.Data[i];
            }
            // One epsilon per file: a BN with another epsilon gets it folded into its variance (var + eps is all BN uses).
            _epsilon ??= eps;
            if (eps != _epsilon.Value)
                for (int i = 0; i < c; i++) parts[3].Data[i] += eps - _epsilon.Value;
            return new ConvBn(conv, bn, w, parts, eps, geometry);
        }

        LayerGeometry Geometry(OnnxNode n)
        {
            string autoPad = n.String("auto_pad") ?? "NOTSET";
            if (autoPad is not ("NOTSET" or "VALID"))
                throw Bad($"{n.Describe}: auto_pad {autoPad} is not supported (re-export with explicit pads)");
            long[] strides = n.Ints("strides") is { Length: > 0 } st ? st : [1, 1];
            if (strides.Length != 2 || strides[0] != strides[1]) throw Bad($"{n.Describe}: strides {Fmt(strides)} must be 2 equal values");
            long[] pads = n.Ints("pads") is { Length: > 0 } pd ? pd : [0, 0, 0, 0];
            if (pads.Length != 4 || pads.Any(p => p < 0)) throw Bad($"{n.Describe}: pads {Fmt(pads)} must be 4 non-negative values");
            // ONNX pads are [x1_begin, x2_begin, x1_end, x2_end] = top, left, bottom, right.
            return new LayerGeometry((int)strides[0], (int)pads[0], (int)pads[1], (int)pads[2], (int)pads[3]);
        }

        void Store(string conv, string bn, ConvBn cb)
        {
            _tensors[conv + ".weight"] = cb.Weight;
            for (int i = 0; i < 4; i++) _tensors[$"{bn}.{WeightValidation.BatchNormParts[i]}"] = cb.BnTensors[i];
            _geometry[conv] = cb.Geometry;
        }

        static string Fmt(long[]? v) => v == null ? "(none)" : "[" + string.Join(",", v) + "]";
    }
}
