using PatchCore.Backends;
using PatchCore.Backends.Reference;

namespace PatchCore.Cuda;

/// <summary>One op compared with the reference: normwise relative error max|a - r| / max|r| against a tolerance.</summary>
public sealed record CheckResult(string Name, bool Pass, double RelError, double Tolerance, string Detail);

/// <summary>
/// Every IBackend op of a fast backend against <see cref="ReferenceBackend"/> on fresh random inputs at moderate
/// sizes (used by the GPU tests and `pcnative bench kernels --check`). A CUDA backend's new tensors are poisoned
/// with NaN first, so an element an op does not write fails. NaN anywhere fails. fp32 tolerance 1e-4; convolutions
/// with TF32 allowed 5e-3; coreset selections must be identical.
/// </summary>
public static class BackendSelfCheck
{
    public const double Fp32Tolerance = 1e-4, Tf32Tolerance = 5e-3;

    public static readonly string[] Names =
    [
        "conv3x3+residual+relu", "conv7x7/s2 asym pad", "conv1x1", "conv1x1/s2", "conv3x3/s2 asym pad",
        "relu", "add", "maxpool", "avgpool", "global avgpool",
        "aggregate official", "aggregate official 1024", "aggregate anomalib",
        "matmul", "pairwise distances", "nearest neighbours k=1", "nearest neighbours k=5 tiled",
        "coreset fp32", "coreset fp16", "anomaly maps",
    ];

    public static IReadOnlyList<CheckResult> RunAll(IBackend backend, bool tf32, int seed = 1234) =>
        Names.Select((n, i) => Run(backend, n, tf32, seed + i)).ToArray();

    public static CheckResult Run(IBackend backend, string name, bool tf32, int seed)
    {
        var reference = new ReferenceBackend();
        var rng = new Random(seed);
        if (backend is CudaBackend cb) cb.PoisonAllocations = true;
        try
        {
            double convTol = tf32 ? Tf32Tolerance : Fp32Tolerance;
            return name switch
            {
                "conv3x3+residual+relu" => Conv(backend, reference, rng, name, new ConvSpec(16, 32, 3, 3, 1, 1, 1, 1, 1), 2, 20, 20, true, true, convTol),
                "conv7x7/s2 asym pad" => Conv(backend, reference, rng, name, new ConvSpec(3, 16, 7, 7, 2, 3, 3, 2, 2), 2, 32, 32, false, true, convTol),
                "conv1x1" => Conv(backend, reference, rng, name, new ConvSpec(32, 64, 1, 1, 1, 0, 0, 0, 0), 3, 14, 14, true, false, convTol),
                "conv1x1/s2" => Conv(backend, reference, rng, name, new ConvSpec(16, 32, 1, 1, 2, 0, 0, 0, 0), 2, 14, 14, false, false, convTol),
                "conv3x3/s2 asym pad" => Conv(backend, reference, rng, name, new ConvSpec(8, 24, 3, 3, 2, 1, 1, 0, 0), 2, 17, 16, false, true, convTol),
                "relu" => Unary(backend, reference, rng, name, [3, 5, 7, 11], (b, x) => b.Relu(x)),
                "add" => Binary(backend, reference, rng, name, [3, 5, 7, 11], (b, x, y) => b.Add(x, y)),
                "maxpool" => Unary(backend, reference, rng, name, [2, 4, 15, 15], (b, x) => b.MaxPool2d(x, new PoolSpec(3, 2, 1, 1, 0, 0))),
                "avgpool" => Unary(backend, reference, rng, name, [2, 4, 15, 14], (b, x) => b.AvgPool2d(x, new PoolSpec(3, 1, 1, 1, 1, 1))),
                "global avgpool" => Unary(backend, reference, rng, name, [3, 6, 7, 9], (b, x) => b.GlobalAvgPool(x)),
                "aggregate official" => Aggregate(backend, reference, rng, name, 24, 40, new AggregationSpec(AggregationMode.Official, 3, 64, 48)),
                "aggregate official 1024" => Aggregate(backend, reference, rng, name, 128, 256, new AggregationSpec()),
                "aggregate anomalib" => Aggregate(backend, reference, rng, name, 24, 40, new AggregationSpec(AggregationMode.Anomalib)),
                "matmul" => Binary2(backend, reference, rng, name, [37, 53], [53, 29], (b, x, y) => b.MatMul(x, y)),
                "pairwise distances" => Binary2(backend, reference, rng, name, [50, 64], [70, 64], (b, x, y) => b.PairwiseSquaredDistances(x, y)),
                "nearest neighbours k=1" => Neighbours(backend, reference, rng, name, 300, 500, 64, 1, false),
                "nearest neighbours k=5 tiled" => Neighbours(backend, reference, rng, name, 300, 500, 48, 5, true),
                "coreset fp32" => Coreset(backend, reference, rng, name, false),
                "coreset fp16" => Coreset(backend, reference, rng, name, true),
                "anomaly maps" => Maps(backend, reference, rng, name),
                _ => throw new ArgumentException($"unknown check '{name}'"),
            };
        }
        catch (Exception e) when (e is not ArgumentException || e.Message.StartsWith("unknown check", StringComparison.Ordinal) == false)
        {
            return new CheckResult(name, false, double.NaN, 0, e.GetType().Name + ": " + e.Message.Split('\n')[0]);
        }
        finally
        {
            if (backend is CudaBackend c) c.PoisonAllocations = false;
        }
    }

    static float[] Random(Random rng, long n, float scale = 1f)
    {
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }

    static float[] Read(IBackend b, DeviceTensor t)
    {
        var a = new float[t.Length];
        b.Download(t, a);
        return a;
    }

    public static double RelError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        if (actual.Length != expected.Length) return double.PositiveInfinity;
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (!float.IsFinite(actual[i]) || !float.IsFinite(expected[i])) return double.NaN;
            maxDiff = Math.Max(maxDiff, Math.Abs((double)actual[i] - expected[i]));
            maxRef = Math.Max(maxRef, Math.Abs((double)expected[i]));
        }
        return maxDiff / Math.Max(maxRef, 1e-12);
    }

    static CheckResult Compare(string name, float[] actual, float[] expected, double tol, string detail = "")
    {
        double e = RelError(actual, expected);
        return new CheckResult(name, e <= tol, e, tol, double.IsNaN(e) ? "NaN/Inf in output (unwritten element?)" : detail);
    }

    static CheckResult Conv(IBackend b, IBackend r, Random rng, string name, ConvSpec s, int n, int h, int w, bool residual, bool relu, double tol)
    {
        var x = Random(rng, (long)n * s.InChannels * h * w);
        var wt = Random(rng, s.WeightLength, 0.2f);
        var bias = Random(rng, s.OutChannels);
        float[]? res = residual ? Random(rng, (long)n * s.OutChannels * s.OutH(h) * s.OutW(w)) : null;
        float[] Do(IBackend be)
        {
            using var xd = be.Upload(x, n, s.InChannels, h, w);
            using var conv = be.CreateConv(s, wt, bias);
            using var rd = res == null ? null : be.Upload(res, n, s.OutChannels, s.OutH(h), s.OutW(w));
            using var y = be.Conv2d(xd, conv, rd, relu);
            return Read(be, y);
        }
        return Compare(name, Do(b), Do(r), tol, $"{s}");
    }

    static CheckResult Unary(IBackend b, IBackend r, Random rng, string name, int[] shape, Func<IBackend, DeviceTensor, DeviceTensor> op)
    {
        var x = Random(rng, Tensors.Tensor.ShapeLength(shape));
        float[] Do(IBackend be)
        {
            using var xd = be.Upload(x, shape);
            using var y = op(be, xd);
            return Read(be, y);
        }
        return Compare(name, Do(b), Do(r), Fp32Tolerance);
    }

    static CheckResult Binary(IBackend b, IBackend r, Random rng, string name, int[] shape, Func<IBackend, DeviceTensor, DeviceTensor, DeviceTensor> op) =>
        Binary2(b, r, rng, name, shape, shape, op);

    static CheckResult Binary2(IBackend b, IBackend r, Random rng, string name, int[] sa, int[] sb, Func<IBackend, DeviceTensor, DeviceTensor, DeviceTensor> op)
    {
        var x = Random(rng, Tensors.Tensor.ShapeLength(sa));
        var y = Random(rng, Tensors.Tensor.ShapeLength(sb));
        float[] Do(IBackend be)
        {
            using var xd = be.Upload(x, sa);
            using var yd = be.Upload(y, sb);
            using var z = op(be, xd, yd);
            return Read(be, z);
        }
        return Compare(name, Do(b), Do(r), Fp32Tolerance);
    }

    static CheckResult Aggregate(IBackend b, IBackend r, Random rng, string name, int c2, int c3, AggregationSpec spec)
    {
        int n = 2, h = 8, w = 8;
        var l2 = Random(rng, (long)n * c2 * h * w);
        var l3 = Random(rng, (long)n * c3 * (h / 2) * (w / 2));
        float[] Do(IBackend be)
        {
            using var a = be.Upload(l2, n, c2, h, w);
            using var c = be.Upload(l3, n, c3, h / 2, w / 2);
            using var y = be.AggregatePatchFeatures(a, c, spec);
            return Read(be, y);
        }
        return Compare(name, Do(b), Do(r), Fp32Tolerance, spec.ToString());
    }

    static CheckResult Neighbours(IBackend b, IBackend r, Random rng, string name, int m, int k, int d, int kk, bool tiled)
    {
        var q = Random(rng, (long)m * d);
        var x = Random(rng, (long)k * d);
        (float[] D, int[] I) Do(IBackend be)
        {
            using var qd = be.Upload(q, m, d);
            using var xd = be.Upload(x, k, d);
            var dist = new float[m * kk];
            var idx = new int[m * kk];
            dist.AsSpan().Fill(float.NaN);
            idx.AsSpan().Fill(-7);
            if (be is CudaBackend c && tiled) { c.DatabaseTileRows = 96; c.QueryTileRows = 64; }
            try { be.NearestNeighbours(qd, xd, kk, dist, idx); }
            finally { if (be is CudaBackend c2) { c2.DatabaseTileRows = 65536; c2.QueryTileRows = int.MaxValue; } }
            return (dist, idx);
        }
        var (ad, ai) = Do(b);
        var (rd, ri) = Do(r);
        double e = RelError(ad, rd);
        // An index may differ only where two database rows are equally near up to rounding: then the returned
        // row's exact distance must equal the reference's distance at that rank.
        int bad = 0;
        for (int i = 0; i < ai.Length; i++)
        {
            if (ai[i] == ri[i]) continue;
            if ((uint)ai[i] >= (uint)k) { bad++; continue; }
            int row = i / kk;
            double s = 0;
            for (int j = 0; j < d; j++) { double t = (double)q[row * d + j] - x[ai[i] * d + j]; s += t * t; }
            if (Math.Abs(s - rd[i]) > Fp32Tolerance * Math.Max(1, Math.Abs(rd[i]))) bad++;
        }
        bool pass = e <= Fp32Tolerance && bad == 0;
        return new CheckResult(name, pass, e, Fp32Tolerance, bad == 0 ? "" : $"{bad} wrong indices");
    }

    static CheckResult Coreset(IBackend b, IBackend r, Random rng, string name, bool half)
    {
        int n = 1500, d = 32, count = 120;
        var f = new float[n * d];
        for (int i = 0; i < f.Length; i++) f[i] = (float)NextGaussian(rng);
        // fp16 storage: the reference runs on the same fp16-rounded values, so the selection must still be identical.
        if (half) for (int i = 0; i < f.Length; i++) f[i] = (float)(Half)f[i];
        var starts = Enumerable.Range(0, 10).Select(_ => rng.Next(n)).ToArray();
        int[] Do(IBackend be)
        {
            using var fd = be.Upload(f, n, d);
            if (be is CudaBackend c) c.CoresetStorage = half ? CoresetStorage.Float16 : CoresetStorage.Float32;
            try { return be.GreedyCoreset(fd, count, starts); }
            finally { if (be is CudaBackend c2) c2.CoresetStorage = CoresetStorage.Float32; }
        }
        var a = Do(b);
        var e = Do(r);
        int first = -1;
        for (int i = 0; i < Math.Min(a.Length, e.Length); i++) if (a[i] != e[i]) { first = i; break; }
        bool same = a.Length == e.Length && first < 0;
        return new CheckResult(name, same, same ? 0 : 1, 0, same ? $"{count} of {n} identical" : $"first difference at selection {first}: {a[first]} vs {e[first]}");
    }

    static CheckResult Maps(IBackend b, IBackend r, Random rng, string name)
    {
        var s = Random(rng, 2 * 7 * 7);
        for (int i = 0; i < s.Length; i++) s[i] = Math.Abs(s[i]) * 3;
        float[] Do(IBackend be)
        {
            using var x = be.Upload(s, 2, 7, 7);
            using var y = be.AnomalyMaps(x, 56, 60, 4f);
            return Read(be, y);
        }
        return Compare(name, Do(b), Do(r), Fp32Tolerance);
    }

    static double NextGaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
