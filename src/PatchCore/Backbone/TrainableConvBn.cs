using PatchCore.Backends;
using PatchCore.Tensors;
using PatchCore.Weights;

namespace PatchCore.Backbone;

/// <summary>
/// A conv followed by its BatchNorm with BN UNFOLDED: the conv weight (and bias, where the file has one), γ, β as
/// trained parameters, the running mean and variance as buffers. Forward keeps what the backward needs (the conv's
/// input, the BN input, the batch statistics in training mode) in a <see cref="Cache"/>.
/// </summary>
sealed class TrainableConvBn : IDisposable
{
    public required string ConvName, BnName;
    public required ConvSpec Spec;
    public required double Eps;
    public required TrainableParameter Weight, Gamma, Beta, RunningMean, RunningVar;
    public TrainableParameter? Bias;

    /// <summary>PyTorch's BatchNorm2d momentum for the running statistics.</summary>
    const double Momentum = 0.1;

    public IEnumerable<TrainableParameter> Parameters()
    {
        yield return Weight;
        if (Bias != null) yield return Bias;
        yield return Gamma;
        yield return Beta;
        yield return RunningMean;
        yield return RunningVar;
    }

    public static TrainableConvBn Load(ITrainingBackend b, WeightFile weights, string conv, string bn, int defaultStride)
    {
        var w = weights.Get(conv + ".weight");
        if (w.Rank != 4) throw new InvalidDataException($"weights: '{conv}.weight' has shape {w.ShapeString}, expected [Cout, Cin, Kh, Kw]");
        int cout = w[0];
        var geo = weights.Metadata.Geometry.TryGetValue(conv, out var g) ? g
            : new LayerGeometry(defaultStride, w[2] / 2, w[3] / 2, w[2] / 2, w[3] / 2);
        TrainableParameter P(string name, bool trained, int length = -1)
        {
            var t = weights.Get(name);
            if (length >= 0 && t.Length != length) throw new InvalidDataException($"weights: '{name}' has shape {t.ShapeString}, expected [{length}]");
            return new TrainableParameter(name, b.Upload(t.Data, t.Shape), trained);
        }
        return new TrainableConvBn
        {
            ConvName = conv, BnName = bn,
            Spec = new ConvSpec(w[1], cout, w[2], w[3], geo.Stride, geo.PadTop, geo.PadLeft, geo.PadBottom, geo.PadRight),
            Eps = weights.Metadata.BatchNormEpsilon,
            Weight = P(conv + ".weight", true),
            Bias = weights.Tensors.ContainsKey(conv + ".bias") ? P(conv + ".bias", true, cout) : null,
            Gamma = P(bn + ".weight", true, cout),
            Beta = P(bn + ".bias", true, cout),
            RunningMean = P(bn + ".running_mean", false, cout),
            RunningVar = P(bn + ".running_var", false, cout),
        };
    }

    /// <summary>What the backward of one conv + BN needs.</summary>
    public sealed class Cache : IDisposable
    {
        public DeviceTensor? Input;          // borrowed: owned by whoever produced it
        public DeviceTensor? ConvOutput;     // the BN input
        public DeviceTensor? SavedMean, SavedInvStd;
        public void Dispose() { ConvOutput?.Dispose(); SavedMean?.Dispose(); SavedInvStd?.Dispose(); }
    }

    /// <summary>BN(conv(x)); <paramref name="batchStatistics"/> selects training-mode BN (updates the running
    /// statistics), else the running statistics are used. The cache borrows x (the caller keeps it alive).</summary>
    public DeviceTensor Forward(ITrainingBackend b, DeviceTensor x, bool batchStatistics, Cache cache)
    {
        cache.Input = x;
        cache.ConvOutput = b.Conv2dForward(x, Weight.Value, Bias?.Value, Spec);
        if (!batchStatistics)
            return b.BatchNorm2dFrozenForward(cache.ConvOutput, Gamma.Value, Beta.Value, RunningMean.Value, RunningVar.Value, Eps);
        var bn = b.BatchNorm2dTrainForward(cache.ConvOutput, Gamma.Value, Beta.Value, RunningMean.Value, RunningVar.Value, Momentum, Eps);
        cache.SavedMean = bn.SavedMean;
        cache.SavedInvStd = bn.SavedInvStd;
        return bn.Output;
    }

    /// <summary>Parameter gradients into the parameters; returns dx when <paramref name="inputGradient"/>.</summary>
    public DeviceTensor? Backward(ITrainingBackend b, DeviceTensor dy, Cache cache, bool inputGradient)
    {
        // dγ and dβ go to the parameters, which own them from then on (the optimiser reads them after this
        // returns); only dx of the BN is ours to free. A `using` on the whole LayerGradients freed dγ and dβ too:
        // harmless on the cpu backends (a small host array's Dispose is a no-op), address 0 for the optimiser's
        // kernel on the cuda backend (CudaEmulatorTrainingTests.StageBackwardMatchesTheReference).
        var g = cache.SavedMean != null
            ? b.BatchNorm2dTrainBackward(dy, cache.ConvOutput!, Gamma.Value, cache.SavedMean, cache.SavedInvStd!)
            : b.BatchNorm2dFrozenBackward(dy, cache.ConvOutput!, Gamma.Value, RunningMean.Value, RunningVar.Value, Eps);
        Gamma.AccumulateGradient(b, g.Weight!);
        Beta.AccumulateGradient(b, g.Bias!);
        LayerGradients c;
        using (var dBnInput = g.Input!)
            c = b.Conv2dBackward(dBnInput, cache.Input!, Weight.Value, Spec, inputGradient, Bias != null);
        Weight.AccumulateGradient(b, c.Weight!);
        if (Bias != null) Bias.AccumulateGradient(b, c.Bias!);
        return c.Input;
    }

    /// <summary>The current values as host tensors under their weight-file names.</summary>
    public void CopyTo(IBackend b, Dictionary<string, Tensor> into)
    {
        foreach (var p in Parameters())
        {
            var t = new Tensor(p.Value.Shape);
            b.Download(p.Value, t.Data);
            into[p.Name] = t;
        }
    }

    public void Dispose()
    {
        foreach (var p in Parameters()) p.Dispose();
    }
}
