using PatchCore.Backends;
using PatchCore.Tensors;
using PatchCore.Weights;

namespace PatchCore.Backbone;

/// <summary>
/// A ResNet that trains (issue 13): the stages chosen as trainable (a contiguous run such as layer3, or layer2 and
/// layer3) are built from the weight file with BatchNorm UNFOLDED — conv weights, γ and β as parameters, running
/// statistics as buffers — and run on <see cref="ITrainingBackend"/> ops with a forward that keeps what the
/// backward needs. Everything before them (stem, max-pool, earlier stages) is frozen and runs as the inference
/// <see cref="ResNet"/> (BN folded, no caches): it never changes, so it needs no gradients. Stages after the last
/// trained one are not run. <see cref="ToWeights"/> writes the current values back under the file's tensor names,
/// so <see cref="ResNet.Load"/> folds them exactly as it folds the base weights.
/// </summary>
public sealed class TrainableResNet : IDisposable
{
    readonly ITrainingBackend backend;
    readonly WeightFile baseWeights;
    readonly ResNet frozen;
    readonly TrainableBlock[][] stages;
    readonly int firstStage; // 1-based stage number of stages[0]

    TrainableResNet(ITrainingBackend backend, WeightFile baseWeights, ResNet frozen, TrainableBlock[][] stages, int firstStage, BatchNormMode mode)
    {
        this.backend = backend;
        this.baseWeights = baseWeights;
        this.frozen = frozen;
        this.stages = stages;
        this.firstStage = firstStage;
        BatchNorm = mode;
        var all = new List<TrainableParameter>();
        foreach (var stage in stages) foreach (var block in stage) all.AddRange(block.Parameters());
        Parameters = all;
    }

    /// <summary>Every tensor of the trained stages: parameters (Trained) and BN running statistics (buffers).</summary>
    public IReadOnlyList<TrainableParameter> Parameters { get; }
    public BatchNormMode BatchNorm { get; }
    /// <summary>The trained stages, "layer2", "layer3", ... in order.</summary>
    public IReadOnlyList<string> TrainedStages => Enumerable.Range(firstStage, stages.Length).Select(s => $"layer{s}").ToArray();
    /// <summary>The last trained stage: what a task's head reads.</summary>
    public string OutputStage => $"layer{firstStage + stages.Length - 1}";
    /// <summary>Output channels of the last trained stage.</summary>
    public int OutputChannels => stages[^1][^1].Convs[^1].Spec.OutChannels;
    /// <summary>The frozen, folded base network (for reference features and the frozen part of the forward).</summary>
    public ResNet Frozen => frozen;

    /// <summary>
    /// Builds the trainable net. <paramref name="trainStages"/>: names "layer2".."layer4", contiguous (e.g.
    /// layer3, or layer2,layer3); layer1 is not offered (the frozen part must end at a stage boundary).
    /// </summary>
    public static TrainableResNet Create(ITrainingBackend backend, WeightFile weights, IReadOnlyList<string> trainStages, BatchNormMode mode)
    {
        if (trainStages.Count == 0) throw new ArgumentException("no stage to train");
        var numbers = new List<int>();
        foreach (var s in trainStages)
        {
            if (s.Length != 6 || !s.StartsWith("layer", StringComparison.Ordinal) || s[5] < '2' || s[5] > '4')
                throw new ArgumentException($"train stage '{s}': layer2, layer3 or layer4");
            numbers.Add(s[5] - '0');
        }
        numbers.Sort();
        for (int i = 1; i < numbers.Count; i++)
            if (numbers[i] != numbers[i - 1] + 1) throw new ArgumentException($"train stages {string.Join(",", trainStages)}: must be contiguous (e.g. layer2,layer3)");
        int first = numbers[0], last = numbers[^1];
        var m = weights.Metadata;
        if (last > m.BlocksPerStage.Length) throw new ArgumentException($"layer{last}: the weights stop after layer{m.BlocksPerStage.Length}");
        bool bottleneck = m.Block == "bottleneck";
        var blocks = new TrainableBlock[last - first + 1][];
        var net = ResNet.Load(backend, weights.TruncateStages(last));
        try
        {
            for (int s = first; s <= last; s++)
            {
                blocks[s - first] = new TrainableBlock[m.BlocksPerStage[s - 1]];
                for (int bi = 0; bi < m.BlocksPerStage[s - 1]; bi++)
                {
                    string p = $"layer{s}.{bi}";
                    int stride = bi == 0 ? 2 : 1; // torchvision v1.5: the first block of stages 2-4 strides on its 3x3 conv
                    TrainableConvBn C(string conv, string bn, int st) => TrainableConvBn.Load(backend, weights, p + conv, p + bn, st);
                    blocks[s - first][bi] = new TrainableBlock
                    {
                        Convs = bottleneck
                            ? [C(".conv1", ".bn1", 1), C(".conv2", ".bn2", stride), C(".conv3", ".bn3", 1)]
                            : [C(".conv1", ".bn1", stride), C(".conv2", ".bn2", 1)],
                        Downsample = weights.Tensors.ContainsKey(p + ".downsample.0.weight") ? C(".downsample.0", ".downsample.1", stride) : null,
                    };
                }
            }
        }
        catch
        {
            net.Dispose();
            foreach (var st in blocks) if (st != null) foreach (var b in st) b?.Dispose();
            throw;
        }
        return new TrainableResNet(backend, weights, net, blocks, first, mode);
    }

    /// <summary>
    /// One forward pass over input [N, 3, H, W]. <paramref name="training"/>: BN per <see cref="BatchNorm"/> (batch
    /// statistics in Train mode) and caches kept for <see cref="Backward"/>; otherwise BN uses the running
    /// statistics. <paramref name="frozenLayers"/>: stage outputs of the frozen BASE net to compute on the same
    /// input (e.g. "layer3" for a feature penalty), in the same pass over the shared prefix.
    /// </summary>
    public Pass Forward(DeviceTensor input, bool training, params string[] frozenLayers)
    {
        var pass = new Pass { FirstStage = firstStage };
        try
        {
            string prefix = $"layer{firstStage - 1}";
            var names = new List<string> { prefix };
            foreach (var l in frozenLayers) if (!names.Contains(l)) names.Add(l);
            var outs = frozen.Forward(input, names.ToArray());
            for (int i = 0; i < names.Count; i++) pass.FrozenOutputs[names[i]] = outs[i];
            bool batchStatistics = training && BatchNorm == BatchNormMode.Train;
            var x = pass.FrozenOutputs[prefix];
            pass.Caches = new TrainableBlock.Cache[stages.Length][];
            for (int s = 0; s < stages.Length; s++)
            {
                pass.Caches[s] = new TrainableBlock.Cache[stages[s].Length];
                for (int b = 0; b < stages[s].Length; b++)
                {
                    var cache = pass.Caches[s][b] = new TrainableBlock.Cache();
                    x = stages[s][b].Forward(backend, x, batchStatistics, cache);
                }
                pass.Outputs[$"layer{firstStage + s}"] = x;
            }
            return pass;
        }
        catch
        {
            pass.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Parameter gradients (into each parameter's Gradient, added to what is there) from the gradients of the
    /// loss w.r.t. trained stage outputs: the last stage's and, optionally, earlier ones (a feature penalty on
    /// layer2 while layer2 and layer3 train). The gradients are borrowed, not disposed.
    /// </summary>
    public void Backward(Pass pass, IReadOnlyDictionary<string, DeviceTensor> outputGradients)
    {
        foreach (var name in outputGradients.Keys)
            if (!pass.Outputs.ContainsKey(name)) throw new ArgumentException($"gradient for '{name}', which is not a trained stage ({string.Join(",", TrainedStages)})");
        if (pass.Caches.Length != stages.Length) throw new InvalidOperationException("backward of a pass that did not complete");
        DeviceTensor? d = null; // owned gradient flowing down
        try
        {
            for (int s = stages.Length - 1; s >= 0; s--)
            {
                if (outputGradients.TryGetValue($"layer{firstStage + s}", out var extra))
                {
                    if (d == null) { using var zero = ZeroLike(extra); d = backend.Add(extra, zero); } // an owned copy
                    else { var sum = backend.Add(d, extra); d.Dispose(); d = sum; }
                }
                if (d == null) continue; // nothing above this stage depends on the loss
                for (int b = stages[s].Length - 1; b >= 0; b--)
                {
                    bool needInput = s > 0 || b > 0; // the frozen prefix needs no gradient
                    // d is non-null here: only the very first block (needInput false) returns null, and it is the last.
                    var next = stages[s][b].Backward(backend, d!, pass.Caches[s][b], needInput);
                    d!.Dispose();
                    d = next;
                }
            }
        }
        finally { d?.Dispose(); }
    }

    DeviceTensor ZeroLike(DeviceTensor t) => backend.Upload(new float[t.Length], t.Shape);

    public void ClearGradients()
    {
        foreach (var p in Parameters) p.ClearGradient();
    }

    /// <summary>The base weight file with every tensor of the trained stages replaced by its current value (the
    /// other tensors are the base's own), same metadata: <see cref="ResNet.Load"/> folds it as the base.</summary>
    public WeightFile ToWeights()
    {
        var tensors = new Dictionary<string, Tensor>(baseWeights.Tensors);
        foreach (var stage in stages)
        foreach (var block in stage)
        {
            foreach (var c in block.Convs) c.CopyTo(backend, tensors);
            block.Downsample?.CopyTo(backend, tensors);
        }
        return new WeightFile(baseWeights.Metadata, tensors);
    }

    /// <summary>The tensors of one forward pass: stage outputs, frozen outputs, the caches of every block.</summary>
    public sealed class Pass : IDisposable
    {
        internal TrainableBlock.Cache[][] Caches = [];
        internal int FirstStage;

        /// <summary>Every ReLU output of the trained stages, in forward order: "layer3.0.relu1" (after conv1/bn1,
        /// …) and "layer3.0.out" (the block output, after the residual add). A ReLU is the trained stages' only
        /// kink: these say on which side of it each pre-activation fell (a step dump's cross-check needs them).</summary>
        public IEnumerable<(string Name, DeviceTensor Map)> ReluOutputs()
        {
            for (int s = 0; s < Caches.Length; s++)
                for (int b = 0; b < Caches[s].Length; b++)
                {
                    string p = $"layer{FirstStage + s}.{b}";
                    for (int i = 0; i < Caches[s][b].Hidden.Length; i++) yield return ($"{p}.relu{i + 1}", Caches[s][b].Hidden[i]);
                    yield return ($"{p}.out", Caches[s][b].Output!);
                }
        }
        /// <summary>Outputs of the trained stages by name ("layer3"); owned by the pass.</summary>
        public Dictionary<string, DeviceTensor> Outputs { get; } = new();
        /// <summary>Outputs of the frozen base net by name (the prefix's last stage and those asked for).</summary>
        public Dictionary<string, DeviceTensor> FrozenOutputs { get; } = new();

        public void Dispose()
        {
            foreach (var stage in Caches)
            foreach (var c in stage)
                if (c != null) { c.Dispose(); c.Output?.Dispose(); }
            foreach (var t in FrozenOutputs.Values) t.Dispose();
            Outputs.Clear();
            FrozenOutputs.Clear();
            Caches = [];
        }
    }

    public void Dispose()
    {
        frozen.Dispose();
        foreach (var stage in stages) foreach (var b in stage) b.Dispose();
    }
}
