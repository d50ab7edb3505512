using PatchCore.Backends;
using PatchCore.Backends.Reference;

namespace PatchCore.Gpu;

/// <summary>How large the self-check's problems are: Tiny for the CPU-accelerator tests (ILGPU simulates every
/// GPU thread there), Moderate for `bench kernels --check`, Realistic for the CUDA test class.</summary>
public enum SelfCheckSize { Tiny, Moderate, Realistic }

/// <summary>One op's comparison: max|a − b| / max|ref| (index mismatches count as 1), pass when ≤ tolerance.</summary>
public sealed record SelfCheckRow(string Op, string Shape, double MaxRelError, double Tolerance, bool Pass)
{
    /// <summary>The reference backend does not implement this op yet (its stub threw NotImplementedException).</summary>
    public bool ReferenceMissing { get; init; }

    public override string ToString() => $"{Op,-28} {Shape,-40} {MaxRelError,10:E2} {(Pass ? "pass" : "FAIL")}";
}

/// <summary>
/// Compares every op of a backend with <see cref="ReferenceBackend"/> on fresh random inputs. Used by the
/// tests (Tiny, on ILGPU's CPU accelerator), by the CUDA test class (Realistic) and by
/// `pcnative bench kernels --check` on a GPU machine where no SDK exists to run the tests.
/// When the backend is a <see cref="GpuBackend"/>, its outputs are NaN-poisoned first, so an element no
/// kernel writes fails instead of passing as a zero.
/// </summary>
public static class GpuSelfCheck
{
    public const double Tolerance = 1e-4;

    delegate SelfCheckRow Case(IBackend b, IBackend r, SelfCheckSize s, Random rng);

    static readonly (string Name, Case Run)[] Cases =
    [
        ("conv3x3 residual relu", (b, r, s, rng) => ConvCase(b, r, rng, "conv3x3 residual relu",
            Pick(s, new ConvSpec(5, 70, 3, 3, 1, 1, 1, 1, 1), new ConvSpec(64, 64, 3, 3, 1, 1, 1, 1, 1), new ConvSpec(256, 256, 3, 3, 1, 1, 1, 1, 1)),
            Pick(s, 2, 2, 4), Pick(s, 6, 28, 14), residual: true, relu: true)),
        ("conv3x3 s2 pad 1,1,0,0", (b, r, s, rng) => ConvCase(b, r, rng, "conv3x3 s2 pad 1,1,0,0",
            Pick(s, new ConvSpec(3, 9, 3, 3, 2, 1, 1, 0, 0), new ConvSpec(64, 128, 3, 3, 2, 1, 1, 0, 0), new ConvSpec(128, 256, 3, 3, 2, 1, 1, 0, 0)),
            Pick(s, 2, 2, 4), Pick(s, 9, 56, 28), residual: false, relu: true)),
        ("conv7x7 s2 pad 3,3,2,2", (b, r, s, rng) => ConvCase(b, r, rng, "conv7x7 s2 pad 3,3,2,2",
            Pick(s, new ConvSpec(3, 8, 7, 7, 2, 3, 3, 2, 2), new ConvSpec(3, 64, 7, 7, 2, 3, 3, 2, 2), new ConvSpec(3, 64, 7, 7, 2, 3, 3, 2, 2)),
            Pick(s, 1, 2, 4), Pick(s, 12, 64, 224), residual: false, relu: true)),
        ("conv1x1 s2", (b, r, s, rng) => ConvCase(b, r, rng, "conv1x1 s2",
            Pick(s, new ConvSpec(6, 10, 1, 1, 2, 0, 0, 0, 0), new ConvSpec(64, 128, 1, 1, 2, 0, 0, 0, 0), new ConvSpec(128, 256, 1, 1, 2, 0, 0, 0, 0)),
            Pick(s, 2, 2, 4), Pick(s, 7, 56, 28), residual: false, relu: false)),
        ("relu", (b, r, s, rng) => Unary(b, r, rng, "relu", Pick<int[]>(s, [2, 3, 5, 7], [4, 64, 56, 56], [16, 64, 56, 56]), (k, x) => k.Relu(x))),
        ("add", (b, r, s, rng) => Binary(b, r, rng, "add", Pick<int[]>(s, [2, 3, 5, 7], [4, 64, 56, 56], [16, 64, 56, 56]), (k, x, y) => k.Add(x, y))),
        ("maxpool3x3 s2 pad 1,1,0,0", (b, r, s, rng) => Unary(b, r, rng, "maxpool3x3 s2 pad 1,1,0,0", Pick<int[]>(s, [2, 3, 9, 8], [4, 64, 112, 112], [16, 64, 112, 112]),
            (k, x) => k.MaxPool2d(x, new PoolSpec(3, 2, 1, 1, 0, 0)))),
        ("maxpool3x3 s2 pad 1", (b, r, s, rng) => Unary(b, r, rng, "maxpool3x3 s2 pad 1", Pick<int[]>(s, [2, 3, 9, 8], [4, 64, 112, 112], [16, 64, 112, 112]),
            (k, x) => k.MaxPool2d(x, new PoolSpec(3, 2, 1, 1, 1, 1)))),
        ("avgpool3x3 s1 pad 1", (b, r, s, rng) => Unary(b, r, rng, "avgpool3x3 s1 pad 1", Pick<int[]>(s, [2, 3, 6, 5], [4, 128, 28, 28], [16, 256, 14, 14]),
            (k, x) => k.AvgPool2d(x, new PoolSpec(3, 1, 1, 1, 1, 1)))),
        ("global avgpool", (b, r, s, rng) => Unary(b, r, rng, "global avgpool", Pick<int[]>(s, [2, 3, 5, 4], [4, 256, 14, 14], [16, 512, 7, 7]), (k, x) => k.GlobalAvgPool(x))),
        ("aggregate official", (b, r, s, rng) => Aggregate(b, r, rng, "aggregate official", s, AggregationMode.Official)),
        ("aggregate anomalib", (b, r, s, rng) => Aggregate(b, r, rng, "aggregate anomalib", s, AggregationMode.Anomalib)),
        ("matmul", (b, r, s, rng) => Binary2(b, r, rng, "matmul", Pick<int[]>(s, [70, 37], [1000, 1024], [4096, 1024]), Pick<int[]>(s, [37, 67], [1024, 128], [1024, 128]),
            (k, x, y) => k.MatMul(x, y))),
        ("pairwise distances", (b, r, s, rng) => Binary2(b, r, rng, "pairwise distances", Pick<int[]>(s, [33, 20], [500, 1024], [2000, 1024]), Pick<int[]>(s, [70, 20], [700, 1024], [500, 1024]),
            (k, x, y) => k.PairwiseSquaredDistances(x, y))),
        ("nearest neighbours k=1", (b, r, s, rng) => Neighbours(b, r, rng, "nearest neighbours k=1", Pick(s, 40, 500, 2000), Pick(s, 90, 700, 500), Pick(s, 16, 256, 1024), 1)),
        ("nearest neighbours k=3", (b, r, s, rng) => Neighbours(b, r, rng, "nearest neighbours k=3", Pick(s, 40, 500, 2000), Pick(s, 90, 700, 500), Pick(s, 16, 256, 1024), 3)),
        ("greedy coreset", (b, r, s, rng) => Coreset(b, r, rng, Pick(s, 300, 5000, 20000), Pick(s, 8, 128, 128), Pick(s, 6, 200, 400))),
        ("anomaly maps sigma 4", (b, r, s, rng) => Maps(b, r, rng, "anomaly maps sigma 4", Pick(s, 2, 4, 8), Pick(s, 5, 28, 28), Pick(s, 13, 224, 224), Pick(s, 11, 224, 224), 4f)),
        ("anomaly maps sigma 1.5", (b, r, s, rng) => Maps(b, r, rng, "anomaly maps sigma 1.5", 2, Pick(s, 4, 28, 28), Pick(s, 9, 64, 224), Pick(s, 17, 80, 224), 1.5f)),
    ];

    public static IReadOnlyList<string> OpNames { get; } = Array.ConvertAll(Cases, c => c.Name);

    /// <summary>Every op; a thrown exception becomes a failing row with the message.</summary>
    public static IReadOnlyList<SelfCheckRow> Run(IBackend backend, SelfCheckSize size = SelfCheckSize.Moderate, int seed = 1)
    {
        var rows = new List<SelfCheckRow>();
        foreach (var (name, _) in Cases) rows.Add(RunOne(backend, name, size, seed));
        return rows;
    }

    public static SelfCheckRow RunOne(IBackend backend, string op, SelfCheckSize size = SelfCheckSize.Moderate, int seed = 1)
    {
        var c = Array.Find(Cases, x => x.Name == op);
        if (c.Run is null) throw new ArgumentException($"unknown self-check op '{op}'");
        using var reference = new ReferenceBackend();
        var gpu = backend as GpuBackend;
        bool poisoned = gpu?.PoisonAllocations ?? false;
        if (gpu is not null) gpu.PoisonAllocations = true;
        try
        {
            return c.Run(backend, reference, size, new Random(seed * 7919 + op.Length));
        }
        catch (NotImplementedException e)
        {
            return new SelfCheckRow(op, "not implemented: " + e.Message, double.PositiveInfinity, Tolerance, false) { ReferenceMissing = true };
        }
        catch (Exception e)
        {
            return new SelfCheckRow(op, "error: " + GpuBackend.OneLine(e), double.PositiveInfinity, Tolerance, false);
        }
        finally
        {
            if (gpu is not null) gpu.PoisonAllocations = poisoned;
        }
    }

    // ---- cases ------------------------------------------------------------------------------------------

    static T Pick<T>(SelfCheckSize s, T tiny, T moderate, T realistic) =>
        s switch { SelfCheckSize.Tiny => tiny, SelfCheckSize.Moderate => moderate, _ => realistic };

    static SelfCheckRow ConvCase(IBackend b, IBackend r, Random rng, string name, ConvSpec spec, int n, int hw, bool residual, bool relu)
    {
        float[] x = RandomData(rng, (long)n * spec.InChannels * hw * hw, 1);
        float[] w = RandomData(rng, spec.WeightLength, 1 / Math.Sqrt(spec.InChannels * spec.KernelH * spec.KernelW));
        float[] bias = RandomData(rng, spec.OutChannels, 0.5);
        int oh = spec.OutH(hw), ow = spec.OutW(hw);
        float[]? res = residual ? RandomData(rng, (long)n * spec.OutChannels * oh * ow, 1) : null;
        float[] Run(IBackend k)
        {
            using var conv = k.CreateConv(spec, w, bias);
            using var xt = k.Upload(x, n, spec.InChannels, hw, hw);
            using var rt = res is null ? null : k.Upload(res, n, spec.OutChannels, oh, ow);
            using var y = k.Conv2d(xt, conv, rt, relu);
            return Read(k, y);
        }
        return Row(name, $"N{n} {spec.InChannels}->{spec.OutChannels} k{spec.KernelH} s{spec.Stride} {hw}x{hw}", Error(Run(b), Run(r)));
    }

    static SelfCheckRow Unary(IBackend b, IBackend r, Random rng, string name, int[] shape, Func<IBackend, DeviceTensor, DeviceTensor> op)
    {
        float[] x = RandomData(rng, Tensors.Tensor.ShapeLength(shape), 1);
        float[] Run(IBackend k)
        {
            using var xt = k.Upload(x, shape);
            using var y = op(k, xt);
            return Read(k, y);
        }
        return Row(name, Shape(shape), Error(Run(b), Run(r)));
    }

    static SelfCheckRow Binary(IBackend b, IBackend r, Random rng, string name, int[] shape, Func<IBackend, DeviceTensor, DeviceTensor, DeviceTensor> op) =>
        Binary2(b, r, rng, name, shape, shape, op);

    static SelfCheckRow Binary2(IBackend b, IBackend r, Random rng, string name, int[] sa, int[] sb, Func<IBackend, DeviceTensor, DeviceTensor, DeviceTensor> op)
    {
        float[] x = RandomData(rng, Tensors.Tensor.ShapeLength(sa), 1);
        float[] y = RandomData(rng, Tensors.Tensor.ShapeLength(sb), 1);
        float[] Run(IBackend k)
        {
            using var xt = k.Upload(x, sa);
            using var yt = k.Upload(y, sb);
            using var z = op(k, xt, yt);
            return Read(k, z);
        }
        return Row(name, Shape(sa) + " " + Shape(sb), Error(Run(b), Run(r)));
    }

    static SelfCheckRow Aggregate(IBackend b, IBackend r, Random rng, string name, SelfCheckSize s, AggregationMode mode)
    {
        // Tiny widths whose C*9 lengths do not divide PretrainDim, so pooling bins straddle channels and overlap.
        int n = Pick(s, 2, 2, 4), c2 = Pick(s, 5, 128, 128), h = Pick(s, 6, 28, 28), c3 = Pick(s, 7, 256, 256), h3 = Pick(s, 3, 14, 14);
        var spec = new AggregationSpec(mode, 3, Pick(s, 16, 1024, 1024), Pick(s, 12, 1024, 1024));
        float[] l2 = RandomData(rng, (long)n * c2 * h * h, 1);
        float[] l3 = RandomData(rng, (long)n * c3 * h3 * h3, 1);
        float[] Run(IBackend k)
        {
            using var a = k.Upload(l2, n, c2, h, h);
            using var c = k.Upload(l3, n, c3, h3, h3);
            using var y = k.AggregatePatchFeatures(a, c, spec);
            return Read(k, y);
        }
        return Row(name, $"N{n} [{c2},{h},{h}] [{c3},{h3},{h3}] P{spec.PretrainDim} T{spec.TargetDim}", Error(Run(b), Run(r)));
    }

    static SelfCheckRow Neighbours(IBackend b, IBackend r, Random rng, string name, int m, int n, int dim, int k)
    {
        float[] q = RandomData(rng, (long)m * dim, 1);
        float[] x = RandomData(rng, (long)n * dim, 1);
        (float[] D, int[] I) Run(IBackend be)
        {
            var d = new float[m * k];
            var idx = new int[m * k];
            Array.Fill(d, float.NaN);
            Array.Fill(idx, -1);
            using var qt = be.Upload(q, m, dim);
            using var xt = be.Upload(x, n, dim);
            be.NearestNeighbours(qt, xt, k, d, idx);
            return (d, idx);
        }
        var (gd, gi) = Run(b);
        var (rd, ri) = Run(r);
        double err = Error(gd, rd);
        double scale = 0;
        foreach (float v in rd) scale = Math.Max(scale, Math.Abs(v));
        for (int i = 0; i < gi.Length; i++)
        {
            if (gi[i] == ri[i]) continue;
            // A different index is acceptable only for a near tie: both candidates at the same distance to
            // within the tolerance (fp32 GEMM vs double loop may order them differently).
            if (gi[i] < 0 || gi[i] >= n || Math.Abs(gd[i] - rd[i]) > Tolerance * scale) { err = Math.Max(err, 1); break; }
        }
        return Row(name, $"q{m} db{n} d{dim} k{k}", err);
    }

    static SelfCheckRow Coreset(IBackend b, IBackend r, Random rng, int n, int dim, int count)
    {
        float[] f = RandomData(rng, (long)n * dim, 1);
        int[] starts = [rng.Next(n), rng.Next(n), rng.Next(n)];
        int[] Run(IBackend k)
        {
            using var t = k.Upload(f, n, dim);
            return k.GreedyCoreset(t, count, starts);
        }
        int[] g = Run(b), e = Run(r);
        int mismatches = 0;
        for (int i = 0; i < count; i++) if (g.Length != count || g[i] != e[i]) mismatches++;
        // Selection must be identical: any mismatch fails (error = fraction of differing picks, at least 1 ulp above 0).
        double err = mismatches == 0 ? 0 : Math.Max(1, mismatches) / (double)count + 1;
        return Row("greedy coreset", $"N{n} d{dim} select {count}", err);
    }

    static SelfCheckRow Maps(IBackend b, IBackend r, Random rng, string name, int n, int g, int outH, int outW, float sigma)
    {
        float[] s = RandomData(rng, (long)n * g * g, 1);
        float[] Run(IBackend k)
        {
            using var t = k.Upload(s, n, g, g);
            using var y = k.AnomalyMaps(t, outH, outW, sigma);
            return Read(k, y);
        }
        return Row(name, $"N{n} {g}x{g} -> {outH}x{outW}", Error(Run(b), Run(r)));
    }

    // ---- helpers ----------------------------------------------------------------------------------------

    static SelfCheckRow Row(string op, string shape, double err) => new(op, shape, err, Tolerance, err <= Tolerance);

    static string Shape(int[] s) => "[" + string.Join(",", s) + "]";

    static float[] RandomData(Random rng, long n, double scale)
    {
        var v = new float[n];
        for (long i = 0; i < n; i++) v[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return v;
    }

    static float[] Read(IBackend b, DeviceTensor t)
    {
        var v = new float[t.Length];
        b.Download(t, v);
        return v;
    }

    /// <summary>max|a − b| / max|ref|; NaN anywhere (a poisoned element never written) or a length mismatch
    /// gives +inf.</summary>
    public static double Error(ReadOnlySpan<float> actual, ReadOnlySpan<float> reference)
    {
        if (actual.Length != reference.Length) return double.PositiveInfinity;
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            if (float.IsNaN(actual[i]) || float.IsNaN(reference[i])) return double.PositiveInfinity;
            maxDiff = Math.Max(maxDiff, Math.Abs((double)actual[i] - reference[i]));
            maxRef = Math.Max(maxRef, Math.Abs((double)reference[i]));
        }
        return maxRef == 0 ? maxDiff : maxDiff / maxRef;
    }
}
