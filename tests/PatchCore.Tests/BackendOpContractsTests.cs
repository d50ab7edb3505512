using PatchCore.Backends;
using PatchCore.Backends.Cpu;
using PatchCore.Backends.Reference;

namespace PatchCore.Tests;

/// <summary>
/// Bad inputs to every op, each rejected by <see cref="OpContracts"/>. Before the contract each backend checked
/// its own way (only CUDA rejected a conv input smaller than its kernel, only the GPU backends a pooling window
/// larger than its input, only CUDA a k above 32), so the same call failed on one backend and ran on another.
/// </summary>
public static class OpContractCases
{
    static DeviceTensor Zeros(IBackend b, params int[] shape) => b.Upload(new float[Tensors.Tensor.ShapeLength(shape)], shape);

    static void Conv(IBackend b, ConvSpec spec, int[] xShape, int[]? residual)
    {
        using var conv = b.CreateConv(spec, new float[spec.WeightLength], new float[spec.OutChannels]);
        using var x = Zeros(b, xShape);
        using var r = residual is null ? null : Zeros(b, residual);
        using var y = b.Conv2d(x, conv, r, relu: true);
    }

    static void Neighbours(IBackend b, int m, int rows, int k, int outputs)
    {
        using var q = Zeros(b, m, 4);
        using var x = Zeros(b, rows, 4);
        b.NearestNeighbours(q, x, k, new float[outputs], new int[outputs]);
    }

    static void Binary(IBackend b, int[] sa, int[] sb, Func<IBackend, DeviceTensor, DeviceTensor, DeviceTensor> op)
    {
        using var x = Zeros(b, sa);
        using var y = Zeros(b, sb);
        using var z = op(b, x, y);
    }

    static void Unary(IBackend b, int[] shape, Func<IBackend, DeviceTensor, DeviceTensor> op)
    {
        using var x = Zeros(b, shape);
        using var y = op(b, x);
    }

    static void Coreset(IBackend b, int count, int[] starts)
    {
        using var f = Zeros(b, 10, 4);
        b.GreedyCoreset(f, count, starts);
    }

    public static readonly (string Name, Action<IBackend> Call)[] All =
    [
        ("upload of the wrong length", b => { using var t = b.Upload(new float[5], 2, 3); }),
        ("download into too small a span", b => { using var t = Zeros(b, 2, 3); b.Download(t, new float[5]); }),
        ("conv weight of the wrong length", b => { using var c = b.CreateConv(new ConvSpec(2, 3, 3, 3, 1, 1, 1, 1, 1), new float[53], new float[3]); }),
        ("conv with zero stride", b => { using var c = b.CreateConv(new ConvSpec(2, 3, 1, 1, 0, 0, 0, 0, 0), new float[6], new float[3]); }),
        ("conv input smaller than the kernel", b => Conv(b, new ConvSpec(2, 3, 7, 7, 2, 0, 0, 0, 0), [1, 2, 5, 9], null)),
        ("conv input smaller than the padded kernel", b => Conv(b, new ConvSpec(2, 3, 7, 7, 2, 1, 1, 1, 1), [1, 2, 9, 4], null)),
        ("conv input channels differ", b => Conv(b, new ConvSpec(2, 3, 3, 3, 1, 1, 1, 1, 1), [1, 4, 6, 6], null)),
        ("conv residual of another shape", b => Conv(b, new ConvSpec(2, 3, 3, 3, 1, 1, 1, 1, 1), [1, 2, 6, 6], [1, 3, 5, 6])),
        ("add of different shapes", b => Binary(b, [2, 3], [3, 2], (k, x, y) => k.Add(x, y))),
        ("max pool window larger than the input", b => Unary(b, [1, 2, 2, 5], (k, x) => k.MaxPool2d(x, new PoolSpec(3, 1, 0, 0, 0, 0)))),
        ("avg pool of a rank-3 tensor", b => Unary(b, [2, 5, 5], (k, x) => k.AvgPool2d(x, new PoolSpec(3, 1, 1, 1, 1, 1)))),
        ("global pool of empty planes", b => Unary(b, [1, 2, 0, 3], (k, x) => k.GlobalAvgPool(x))),
        ("aggregation with an even patch", b => Binary(b, [1, 2, 4, 4], [1, 3, 2, 2], (k, x, y) => k.AggregatePatchFeatures(x, y, new AggregationSpec(PatchSize: 2)))),
        ("aggregation of different batches", b => Binary(b, [2, 2, 4, 4], [1, 3, 2, 2], (k, x, y) => k.AggregatePatchFeatures(x, y, new AggregationSpec()))),
        ("aggregation to zero dims", b => Binary(b, [1, 2, 4, 4], [1, 3, 2, 2], (k, x, y) => k.AggregatePatchFeatures(x, y, new AggregationSpec(TargetDim: 0)))),
        ("matmul that does not chain", b => Binary(b, [2, 3], [4, 2], (k, x, y) => k.MatMul(x, y))),
        ("distances of different dims", b => Binary(b, [2, 3], [4, 2], (k, x, y) => k.PairwiseSquaredDistances(x, y))),
        ("k above the contract's bound", b => Neighbours(b, 2, 40, OpContracts.MaxNeighbours + 1, 100)),
        ("k above the database rows", b => Neighbours(b, 2, 3, 4, 100)),
        ("k = 0", b => Neighbours(b, 2, 3, 0, 100)),
        ("neighbour outputs too small", b => Neighbours(b, 3, 5, 2, 5)),
        ("coreset of more rows than there are", b => Coreset(b, 11, [0])),
        ("coreset start outside the rows", b => Coreset(b, 2, [3, 10])),
        ("coreset without starts", b => Coreset(b, 2, [])),
        ("maps with negative sigma", b => Unary(b, [1, 3, 3], (k, x) => k.AnomalyMaps(x, 8, 8, -1f))),
        ("maps with NaN sigma", b => Unary(b, [1, 3, 3], (k, x) => k.AnomalyMaps(x, 8, 8, float.NaN))),
        ("maps of zero height", b => Unary(b, [1, 3, 3], (k, x) => k.AnomalyMaps(x, 0, 8, 4f))),
        ("maps of an empty grid", b => Unary(b, [1, 0, 3], (k, x) => k.AnomalyMaps(x, 8, 8, 4f))),
    ];

    public static TheoryData<string> Names() => new(Array.ConvertAll(All, c => c.Name));

    /// <summary>The message the op throws; fails when it throws something other than ArgumentException or nothing.</summary>
    public static string Message(IBackend b, string name)
    {
        var call = Array.Find(All, c => c.Name == name).Call;
        var e = Assert.ThrowsAny<ArgumentException>(() => call(b));
        return e.Message;
    }
}

/// <summary>The reference, cpu and gpu (ILGPU on its CPU accelerator) backends reject each bad input with the same
/// message, from the one contract.</summary>
[Collection("ilgpu cpu accelerator")]
public class BackendOpContractsTests(CpuAcceleratorFixture gpu)
{
    [Theory]
    [MemberData(nameof(OpContractCases.Names), MemberType = typeof(OpContractCases))]
    public void EveryBackendRejectsWithTheSameMessage(string name)
    {
        using var reference = new ReferenceBackend();
        using var cpu = new CpuBackend(threads: 2);
        string expected = OpContractCases.Message(reference, name);
        Assert.False(string.IsNullOrWhiteSpace(expected));
        Assert.Equal(expected, OpContractCases.Message(cpu, name));
        Assert.Equal(expected, OpContractCases.Message(gpu.Backend, name));
    }

    [Fact]
    public void MessagesNameTheOpAndWhatWasGiven()
    {
        using var reference = new ReferenceBackend();
        Assert.Equal("Conv2d: input [1,2,5,9] is smaller than the padded kernel of the 7x7 conv 2->3 stride 2 pad 0,0,0,0",
            OpContractCases.Message(reference, "conv input smaller than the kernel"));
        Assert.Equal("NearestNeighbours: k = 33 is outside 1..32", OpContractCases.Message(reference, "k above the contract's bound"));
        Assert.Equal("MaxPool2d: input [1,2,2,5] is smaller than the padded 3x3 window stride 1 pad 0,0,0,0",
            OpContractCases.Message(reference, "max pool window larger than the input"));
    }

    /// <summary>The one Gaussian-weights routine all backends blur with: scipy's radius int(4σ + 0.5) and
    /// normalisation, and sigma 0 as no blur (one tap of 1) instead of a division by zero.</summary>
    [Fact]
    public void GaussianWeightsMatchScipyRadiusAndNormalisation()
    {
        var t = Resampling.GaussianWeightsSingle(4f);
        Assert.Equal(33, t.Length); // radius int(4*4 + 0.5) = 16
        Assert.Equal(1.0, t.Sum(x => (double)x), 5);
        Assert.Equal(t[0], t[^1]);
        Assert.True(t[16] > t[15]);
        Assert.Equal(Math.Exp(-0.5 * 256 / 16.0) / Math.Exp(0), t[0] / t[16], 5);
        Assert.Equal([1f], Resampling.GaussianWeightsSingle(0f));
        var d = Resampling.GaussianWeights(1.5f);
        var f = Resampling.GaussianWeightsSingle(1.5f);
        for (int i = 0; i < d.Length; i++) Assert.Equal((float)d[i], f[i]);
    }
}

/// <summary>The native CUDA backend (on the emulator) rejects each bad input with the reference's message.</summary>
[Collection("cuda emulator")]
public class CudaEmulatorOpContractsTests(CudaEmulatorFixture fixture)
{
    [Theory]
    [MemberData(nameof(OpContractCases.Names), MemberType = typeof(OpContractCases))]
    public void CudaRejectsWithTheReferenceMessage(string name)
    {
        var cuda = fixture.Get();
        using var reference = new ReferenceBackend();
        string expected = OpContractCases.Message(reference, name);
        lock (cuda) Assert.Equal(expected, OpContractCases.Message(cuda, name));
    }
}
