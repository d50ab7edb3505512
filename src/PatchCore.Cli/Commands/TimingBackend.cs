using System.Diagnostics;
using PatchCore.Backends;

namespace PatchCore.Cli.Commands;

/// <summary>Wraps a backend and times every Conv2d call (for the per-conv-shape breakdown of bench backbone) and
/// every other backbone op (pooling, ReLU, add), so the breakdown accounts for a whole pass.</summary>
internal sealed class TimingBackend(IBackend inner) : IBackend
{
    public readonly record struct ConvCall(ConvSpec Spec, int N, int H, int W, double Seconds);
    public List<ConvCall> Calls { get; } = [];
    public readonly record struct OpCall(string Op, double Seconds);
    public List<OpCall> OtherCalls { get; } = [];

    DeviceTensor Timed(string op, Func<DeviceTensor> run)
    {
        var sw = Stopwatch.StartNew();
        var y = run();
        OtherCalls.Add(new OpCall(op, sw.Elapsed.TotalSeconds));
        return y;
    }

    public string Name => inner.Name;
    public string Description => inner.Description;
    public DeviceTensor Allocate(params int[] shape) => inner.Allocate(shape);
    public DeviceTensor Upload(ReadOnlySpan<float> data, params int[] shape) => inner.Upload(data, shape);
    public void Download(DeviceTensor source, Span<float> destination) => inner.Download(source, destination);
    public ConvLayer CreateConv(ConvSpec spec, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias) => inner.CreateConv(spec, weight, bias);

    public DeviceTensor Conv2d(DeviceTensor x, ConvLayer conv, DeviceTensor? residual = null, bool relu = false)
    {
        var sw = Stopwatch.StartNew();
        var y = inner.Conv2d(x, conv, residual, relu);
        Calls.Add(new ConvCall(conv.Spec, x[0], x[2], x[3], sw.Elapsed.TotalSeconds));
        return y;
    }

    public DeviceTensor Relu(DeviceTensor x) => Timed("relu", () => inner.Relu(x));
    public DeviceTensor Add(DeviceTensor a, DeviceTensor b) => Timed("add", () => inner.Add(a, b));
    public DeviceTensor MaxPool2d(DeviceTensor x, PoolSpec pool) => Timed($"max pool {pool.Kernel}x{pool.Kernel} /{pool.Stride} @ {x[2]}x{x[3]}", () => inner.MaxPool2d(x, pool));
    public DeviceTensor AvgPool2d(DeviceTensor x, PoolSpec pool) => Timed($"avg pool {pool.Kernel}x{pool.Kernel} /{pool.Stride} @ {x[2]}x{x[3]}", () => inner.AvgPool2d(x, pool));
    public DeviceTensor GlobalAvgPool(DeviceTensor x) => inner.GlobalAvgPool(x);
    public DeviceTensor AggregatePatchFeatures(DeviceTensor layer2, DeviceTensor layer3, AggregationSpec spec) => inner.AggregatePatchFeatures(layer2, layer3, spec);
    public DeviceTensor MatMul(DeviceTensor a, DeviceTensor b) => inner.MatMul(a, b);
    public DeviceTensor PairwiseSquaredDistances(DeviceTensor queries, DeviceTensor database) => inner.PairwiseSquaredDistances(queries, database);
    public void NearestNeighbours(DeviceTensor queries, DeviceTensor database, int k, Span<float> distances, Span<int> indices) => inner.NearestNeighbours(queries, database, k, distances, indices);
    public int[] GreedyCoreset(DeviceTensor features, int count, ReadOnlySpan<int> starts) => inner.GreedyCoreset(features, count, starts);
    public DeviceTensor AnomalyMaps(DeviceTensor patchScores, int outH, int outW, float sigma) => inner.AnomalyMaps(patchScores, outH, outW, sigma);
    public void Dispose() { }
}
