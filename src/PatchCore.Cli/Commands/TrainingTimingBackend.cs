using System.Diagnostics;
using System.Globalization;
using PatchCore.Backends;

namespace PatchCore.Cli.Commands;

/// <summary>
/// Wraps a training backend and adds up the wall time of every op by name (convs and pools by shape), for
/// `pcnative bench train --ops`: the training twin of <see cref="TimingBackend"/>. Calls pass straight through, so
/// the step it times is the one a fine-tuning run takes (the ops are synchronous on the CPU backends; on a device
/// backend a time is the launch's, not the kernel's).
/// </summary>
internal sealed class TrainingTimingBackend(ITrainingBackend inner) : ITrainingBackend
{
    public sealed class OpTotal { public int Count; public double Seconds; }
    /// <summary>Per op key: calls and seconds since the last <see cref="Clear"/>.</summary>
    public Dictionary<string, OpTotal> Totals { get; } = [];
    public void Clear() => Totals.Clear();

    T Timed<T>(string op, Func<T> run)
    {
        var sw = Stopwatch.StartNew();
        var y = run();
        Add(op, sw.Elapsed.TotalSeconds);
        return y;
    }

    void Timed(string op, Action run)
    {
        var sw = Stopwatch.StartNew();
        run();
        Add(op, sw.Elapsed.TotalSeconds);
    }

    void Add(string op, double seconds)
    {
        if (!Totals.TryGetValue(op, out var t)) Totals[op] = t = new OpTotal();
        t.Count++;
        t.Seconds += seconds;
    }

    static string Conv(ConvSpec s, DeviceTensor x) => string.Create(CultureInfo.InvariantCulture,
        $"{s.InChannels}>{s.OutChannels} {s.KernelH}x{s.KernelW} /{s.Stride} @ {x[2]}x{x[3]}");
    static string Map(DeviceTensor x) => x.Rank == 4 ? string.Create(CultureInfo.InvariantCulture, $"{x[1]}ch @ {x[2]}x{x[3]}") : x.ShapeString;

    public string Name => inner.Name;
    public string Description => inner.Description;
    public DeviceTensor Allocate(params int[] shape) => inner.Allocate(shape);
    public DeviceTensor Upload(ReadOnlySpan<float> data, params int[] shape) => inner.Upload(data, shape);
    public void Download(DeviceTensor source, Span<float> destination) => inner.Download(source, destination);
    public ConvLayer CreateConv(ConvSpec spec, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias) => inner.CreateConv(spec, weight, bias);

    // ---- inference ops (the frozen prefix runs on these) ----
    public DeviceTensor Conv2d(DeviceTensor x, ConvLayer conv, DeviceTensor? residual = null, bool relu = false) =>
        Timed("frozen conv " + Conv(conv.Spec, x), () => inner.Conv2d(x, conv, residual, relu));
    public DeviceTensor Relu(DeviceTensor x) => Timed("relu " + Map(x), () => inner.Relu(x));
    public DeviceTensor Add(DeviceTensor a, DeviceTensor b) => Timed("add " + Map(a), () => inner.Add(a, b));
    public DeviceTensor MaxPool2d(DeviceTensor x, PoolSpec pool) => Timed("max pool " + Map(x), () => inner.MaxPool2d(x, pool));
    public DeviceTensor AvgPool2d(DeviceTensor x, PoolSpec pool) => Timed("avg pool " + Map(x), () => inner.AvgPool2d(x, pool));
    public DeviceTensor GlobalAvgPool(DeviceTensor x) => Timed("global avg pool", () => inner.GlobalAvgPool(x));
    public DeviceTensor AggregatePatchFeatures(DeviceTensor layer2, DeviceTensor layer3, AggregationSpec spec) => inner.AggregatePatchFeatures(layer2, layer3, spec);
    public DeviceTensor MatMul(DeviceTensor a, DeviceTensor b) => Timed("matmul", () => inner.MatMul(a, b));
    public DeviceTensor PairwiseSquaredDistances(DeviceTensor queries, DeviceTensor database) => inner.PairwiseSquaredDistances(queries, database);
    public void NearestNeighbours(DeviceTensor queries, DeviceTensor database, int k, Span<float> distances, Span<int> indices) => inner.NearestNeighbours(queries, database, k, distances, indices);
    public int[] GreedyCoreset(DeviceTensor features, int count, ReadOnlySpan<int> starts) => inner.GreedyCoreset(features, count, starts);
    public DeviceTensor AnomalyMaps(DeviceTensor patchScores, int outH, int outW, float sigma) => inner.AnomalyMaps(patchScores, outH, outW, sigma);

    // ---- training ops ----
    public DeviceTensor Conv2dForward(DeviceTensor x, DeviceTensor weight, DeviceTensor? bias, ConvSpec spec) =>
        Timed("conv forward " + Conv(spec, x), () => inner.Conv2dForward(x, weight, bias, spec));
    public LayerGradients Conv2dBackward(DeviceTensor dy, DeviceTensor x, DeviceTensor weight, ConvSpec spec, bool inputGradient, bool biasGradient) =>
        Timed((inputGradient ? "conv backward dW+dx " : "conv backward dW ") + Conv(spec, x),
            () => inner.Conv2dBackward(dy, x, weight, spec, inputGradient, biasGradient));
    public BatchNormTrainOutput BatchNorm2dTrainForward(DeviceTensor x, DeviceTensor gamma, DeviceTensor beta, DeviceTensor runningMean, DeviceTensor runningVar, double momentum, double eps) =>
        Timed("bn train forward " + Map(x), () => inner.BatchNorm2dTrainForward(x, gamma, beta, runningMean, runningVar, momentum, eps));
    public LayerGradients BatchNorm2dTrainBackward(DeviceTensor dy, DeviceTensor x, DeviceTensor gamma, DeviceTensor savedMean, DeviceTensor savedInvStd) =>
        Timed("bn train backward " + Map(x), () => inner.BatchNorm2dTrainBackward(dy, x, gamma, savedMean, savedInvStd));
    public DeviceTensor BatchNorm2dFrozenForward(DeviceTensor x, DeviceTensor gamma, DeviceTensor beta, DeviceTensor runningMean, DeviceTensor runningVar, double eps) =>
        Timed("bn frozen forward " + Map(x), () => inner.BatchNorm2dFrozenForward(x, gamma, beta, runningMean, runningVar, eps));
    public LayerGradients BatchNorm2dFrozenBackward(DeviceTensor dy, DeviceTensor x, DeviceTensor gamma, DeviceTensor runningMean, DeviceTensor runningVar, double eps) =>
        Timed("bn frozen backward " + Map(x), () => inner.BatchNorm2dFrozenBackward(dy, x, gamma, runningMean, runningVar, eps));
    public DeviceTensor ReluBackward(DeviceTensor dy, DeviceTensor y) => Timed("relu backward " + Map(y), () => inner.ReluBackward(dy, y));
    public DeviceTensor MaxPool2dBackward(DeviceTensor dy, DeviceTensor x, PoolSpec pool) => Timed("max pool backward " + Map(x), () => inner.MaxPool2dBackward(dy, x, pool));
    public DeviceTensor GlobalAvgPoolBackward(DeviceTensor dy, int h, int w) => Timed("global avg pool backward", () => inner.GlobalAvgPoolBackward(dy, h, w));
    public DeviceTensor LinearForward(DeviceTensor x, DeviceTensor weight, DeviceTensor? bias) => Timed("linear forward", () => inner.LinearForward(x, weight, bias));
    public LayerGradients LinearBackward(DeviceTensor dy, DeviceTensor x, DeviceTensor weight, bool inputGradient, bool biasGradient) =>
        Timed("linear backward", () => inner.LinearBackward(dy, x, weight, inputGradient, biasGradient));
    public DeviceTensor L2NormalizeRows(DeviceTensor x, double eps) => Timed("l2 normalize", () => inner.L2NormalizeRows(x, eps));
    public DeviceTensor L2NormalizeRowsBackward(DeviceTensor dy, DeviceTensor x, double eps) => Timed("l2 normalize backward", () => inner.L2NormalizeRowsBackward(dy, x, eps));
    public LossOutput SoftmaxCrossEntropyForward(DeviceTensor logits, ReadOnlySpan<int> labels)
    {
        var sw = Stopwatch.StartNew();
        var y = inner.SoftmaxCrossEntropyForward(logits, labels);
        Add("softmax cross-entropy", sw.Elapsed.TotalSeconds);
        return y;
    }
    public DeviceTensor SoftmaxCrossEntropyBackward(LossOutput forward, ReadOnlySpan<int> labels, double lossGradient)
    {
        var sw = Stopwatch.StartNew();
        var y = inner.SoftmaxCrossEntropyBackward(forward, labels, lossGradient);
        Add("softmax cross-entropy backward", sw.Elapsed.TotalSeconds);
        return y;
    }
    public LossOutput NtXentForward(DeviceTensor z, int pairs, double temperature) => Timed("nt-xent", () => inner.NtXentForward(z, pairs, temperature));
    public DeviceTensor NtXentBackward(LossOutput forward, DeviceTensor z, int pairs, double temperature, double lossGradient) =>
        Timed("nt-xent backward", () => inner.NtXentBackward(forward, z, pairs, temperature, lossGradient));
    public void SgdStep(DeviceTensor parameter, DeviceTensor gradient, DeviceTensor momentumBuffer, SgdOptions options, double learningRate) =>
        Timed("sgd step", () => inner.SgdStep(parameter, gradient, momentumBuffer, options, learningRate));
    public void AdamWStep(DeviceTensor parameter, DeviceTensor gradient, DeviceTensor firstMoment, DeviceTensor secondMoment, int step, AdamWOptions options, double learningRate) =>
        Timed("adamw step", () => inner.AdamWStep(parameter, gradient, firstMoment, secondMoment, step, options, learningRate));

    public void Dispose() { }
}
