using PatchCore.Backends;
using PatchCore.Backends.Cpu;
using PatchCore.Backends.Reference;
using PatchCore.Cli.Commands;

namespace PatchCore.Tests;

/// <summary>
/// `bench kernels` is one harness over <see cref="IBackend"/>: at the tiny sizes it must give a finite row for every
/// op of the interface on each backend, one per kernel variant where the backend has variants. Structure only:
/// nothing here depends on how fast anything is.
/// </summary>
public class BenchKernelsTests
{
    static readonly MachineCeilings Fixed = new(10, "test", 100, "test", 200, "test tf32");

    /// <summary>Every op the bench must time is an <see cref="IBackend"/> method, and every IBackend method but
    /// setup (Allocate, CreateConv) and Dispose is timed: an op added to the interface fails here until benched.</summary>
    [Fact]
    public void CaseListNamesEveryBackendOp()
    {
        var methods = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var m in typeof(IBackend).GetMethods())
            if (!m.IsSpecialName && m.Name is not (nameof(IBackend.Allocate) or nameof(IBackend.CreateConv))) methods.Add(m.Name);
        Assert.Equal(methods, new SortedSet<string>(BenchKernelCases.Ops, StringComparer.Ordinal));
    }

    [Fact]
    public void ReferenceBackendGivesEveryOp()
    {
        using var b = new ReferenceBackend();
        AssertCoversEveryOp(b);
    }

    [Fact]
    public void CpuBackendGivesEveryOp()
    {
        using var b = new CpuBackend(2);
        AssertCoversEveryOp(b);
    }

    /// <summary>A backend with variants gets one row per variant of each op that has them, named as it names them.</summary>
    [Fact]
    public void VariantsEachGetARow()
    {
        using var b = new VariantBackend();
        var rows = BenchKernelHarness.Measure(b, BenchKernelSizes.Tiny, Fixed, repeats: 1);
        var coreset = rows.FindAll(r => r.Op == nameof(IBackend.GreedyCoreset));
        Assert.Equal(["fast", "slow"], coreset.ConvertAll(r => r.Variant));
        Assert.Equal(["fast", "slow"], b.Seen);
        Assert.Equal("none", b.Current); // each selection was undone
        Assert.All(rows.FindAll(r => r.Op != nameof(IBackend.GreedyCoreset)), r => Assert.Equal("default", r.Variant));
    }

    /// <summary>Tiny sizes, one timed call each: every op appears (both aggregation modes, every conv shape), each
    /// row finite and positive, the GFLOP/s ops against the FLOP ceiling and the rest against memory (a device's
    /// upload and download against none).</summary>
    public static void AssertCoversEveryOp(IBackend backend)
    {
        var rows = BenchKernelHarness.Measure(backend, BenchKernelSizes.Tiny, Fixed, repeats: 1);
        foreach (var op in BenchKernelCases.Ops)
            Assert.Contains(rows, r => r.Op == op);
        Assert.Equal(BenchKernelSizes.Tiny.Convs.Length, rows.FindAll(r => r.Op == nameof(IBackend.Conv2d) && r.Variant is "default" or "fp32").Count);
        Assert.Equal(2, rows.FindAll(r => r.Op == nameof(IBackend.AggregatePatchFeatures)).Count);
        foreach (var r in rows)
        {
            Assert.True(r.MedianMs > 0 && double.IsFinite(r.Rate) && r.Rate > 0, r.ToString());
            Assert.Equal(backend.Name, r.Backend);
            Assert.Equal(r.Op is nameof(IBackend.Conv2d) or nameof(IBackend.MatMul) or nameof(IBackend.PairwiseSquaredDistances)
                or nameof(IBackend.NearestNeighbours) ? "GFLOP/s" : "GB/s", r.Unit);
            // Only a device's transfers over the host link have no measured ceiling.
            bool hostLink = r.Op is nameof(IBackend.Upload) or nameof(IBackend.Download);
            Assert.True(r.Ceiling is > 0 || (hostLink && backend is IMachineCeilings), r.ToString());
        }
    }

    /// <summary>The reference backend with two made-up coreset kernels, recording which one each call ran.</summary>
    sealed class VariantBackend : IBackend, IKernelVariants
    {
        readonly ReferenceBackend _inner = new();
        public string Current { get; private set; } = "none";
        public List<string> Seen { get; } = [];

        public IReadOnlyList<string> Variants(string op) => op == nameof(IBackend.GreedyCoreset) ? ["fast", "slow"] : [];

        public IDisposable SelectVariant(string op, string variant)
        {
            Assert.Equal(nameof(IBackend.GreedyCoreset), op);
            string before = Current;
            Current = variant;
            return new Undo(() => Current = before);
        }

        sealed class Undo(Action a) : IDisposable { public void Dispose() => a(); }

        public string Name => _inner.Name;
        public string Description => _inner.Description;
        public DeviceTensor Allocate(params int[] shape) => _inner.Allocate(shape);
        public DeviceTensor Upload(ReadOnlySpan<float> data, params int[] shape) => _inner.Upload(data, shape);
        public void Download(DeviceTensor source, Span<float> destination) => _inner.Download(source, destination);
        public ConvLayer CreateConv(ConvSpec spec, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias) => _inner.CreateConv(spec, weight, bias);
        public DeviceTensor Conv2d(DeviceTensor x, ConvLayer conv, DeviceTensor? residual = null, bool relu = false) => _inner.Conv2d(x, conv, residual, relu);
        public DeviceTensor Relu(DeviceTensor x) => _inner.Relu(x);
        public DeviceTensor Add(DeviceTensor a, DeviceTensor b) => _inner.Add(a, b);
        public DeviceTensor MaxPool2d(DeviceTensor x, PoolSpec pool) => _inner.MaxPool2d(x, pool);
        public DeviceTensor AvgPool2d(DeviceTensor x, PoolSpec pool) => _inner.AvgPool2d(x, pool);
        public DeviceTensor GlobalAvgPool(DeviceTensor x) => _inner.GlobalAvgPool(x);
        public DeviceTensor AggregatePatchFeatures(DeviceTensor layer2, DeviceTensor layer3, AggregationSpec spec) => _inner.AggregatePatchFeatures(layer2, layer3, spec);
        public DeviceTensor MatMul(DeviceTensor a, DeviceTensor b) => _inner.MatMul(a, b);
        public DeviceTensor PairwiseSquaredDistances(DeviceTensor queries, DeviceTensor database) => _inner.PairwiseSquaredDistances(queries, database);
        public void NearestNeighbours(DeviceTensor queries, DeviceTensor database, int k, Span<float> distances, Span<int> indices) =>
            _inner.NearestNeighbours(queries, database, k, distances, indices);
        public int[] GreedyCoreset(DeviceTensor features, int count, ReadOnlySpan<int> starts)
        {
            Seen.Add(Current);
            return _inner.GreedyCoreset(features, count, starts);
        }
        public DeviceTensor AnomalyMaps(DeviceTensor patchScores, int outH, int outW, float sigma) => _inner.AnomalyMaps(patchScores, outH, outW, sigma);
        public void Dispose() => _inner.Dispose();
    }
}

/// <summary>The harness on the native CUDA backend (the CUDA emulator in CI): its ceilings come from the backend, each
/// Conv2d and GreedyCoreset variant gets a row, and the backend's switches are back where they were afterwards.</summary>
[Collection("cuda emulator")]
public class BenchKernelsCudaEmulatorTests(CudaEmulatorFixture fixture)
{
    [Fact]
    public void EveryVariantGetsARowAndTheSwitchesComeBack()
    {
        var b = fixture.Get();
        lock (b)
        {
            var ceilings = b.MeasureCeilings(small: true);
            Assert.True(ceilings.MemoryGBps > 0 && ceilings.Fp32GFlops > 0 && ceilings.Tf32GFlops > 0, ceilings.ToString());
            BenchKernelsTests.AssertCoversEveryOp(b);
            var rows = BenchKernelHarness.Measure(b, BenchKernelSizes.Tiny, ceilings, repeats: 1);
            Assert.Equal(["fp32 vec16", "fp32 generic", "fp16 vec16", "fp16 generic"],
                rows.FindAll(r => r.Op == nameof(IBackend.GreedyCoreset)).ConvertAll(r => r.Variant));
            Assert.Equal(BenchKernelSizes.Tiny.Convs.Length, rows.FindAll(r => r.Op == nameof(IBackend.Conv2d) && r.Variant == "tf32").Count);
            Assert.All(rows.FindAll(r => r.Variant == "tf32"), r => Assert.Equal(ceilings.Tf32GFlops, r.Ceiling));
            Assert.False(b.AllowTf32);
            Assert.True(b.CoresetVectorized);
            Assert.Equal(PatchCore.Cuda.CoresetStorage.Float32, b.CoresetStorage);
            Assert.Throws<ArgumentException>(() => b.SelectVariant(nameof(IBackend.GreedyCoreset), "fp64"));
        }
    }
}
