namespace PatchCore.Backends;

/// <summary>How large the self-check's problems are: Tiny for the CPU tests (ILGPU's CPU accelerator simulates
/// every GPU thread), Moderate for `pcnative bench kernels --check` and the CUDA backend's tests, Realistic
/// (ResNet/PatchCore shapes) for the ILGPU-on-CUDA tests.</summary>
public enum SelfCheckSize { Tiny, Moderate, Realistic }

/// <summary>One op's comparison: max|a − r| / max|r| (index mismatches count as ≥ 1), pass when ≤ tolerance.</summary>
public sealed record SelfCheckRow(string Op, string Shape, double MaxRelError, double Tolerance, bool Pass)
{
    public override string ToString() => $"{Op,-28} {Shape,-40} {MaxRelError,10:E2} {Tolerance,8:E0} {(Pass ? "pass" : "FAIL")}";
}

/// <summary>
/// Compares every op of a backend with a reference backend (the caller passes one: the CLI and the tests pass
/// Reference.ReferenceBackend, the truth; this contract folder names no concrete backend) on fresh random inputs. Used by the backend
/// tests and by `pcnative bench kernels --check` (on a GPU machine no SDK may exist to run the tests). A backend
/// that is <see cref="IPoisonableBackend"/> has its outputs NaN-filled first, so an element no op writes fails;
/// NaN/Inf anywhere fails. fp32 tolerance 1e-4; convolutions with TF32 allowed 5e-3; coreset selections must be
/// identical (fp16 storage included: the reference then runs on the same fp16-rounded features).
/// </summary>
public static class BackendSelfCheck
{
    public const double Tolerance = 1e-4, Tf32Tolerance = 5e-3;

    delegate SelfCheckRow Case(IBackend b, IBackend r, SelfCheckSize s, Random rng, bool tf32);

    static readonly (string Name, Case Run)[] Cases =
    [
        ("conv3x3 residual relu", (b, r, s, rng, tf) => ConvCase(b, r, rng, "conv3x3 residual relu",
            Pick(s, new ConvSpec(5, 70, 3, 3, 1, 1, 1, 1, 1), new ConvSpec(64, 64, 3, 3, 1, 1, 1, 1, 1), new ConvSpec(256, 256, 3, 3, 1, 1, 1, 1, 1)),
            Pick(s, 2, 2, 4), Pick(s, 6, 28, 14), residual: true, relu: true, tf)),
        ("conv3x3 s2 pad 1,1,0,0", (b, r, s, rng, tf) => ConvCase(b, r, rng, "conv3x3 s2 pad 1,1,0,0",
            Pick(s, new ConvSpec(3, 9, 3, 3, 2, 1, 1, 0, 0), new ConvSpec(64, 128, 3, 3, 2, 1, 1, 0, 0), new ConvSpec(128, 256, 3, 3, 2, 1, 1, 0, 0)),
            Pick(s, 2, 2, 4), Pick(s, 9, 56, 28), residual: false, relu: true, tf)),
        ("conv7x7 s2 pad 3,3,2,2", (b, r, s, rng, tf) => ConvCase(b, r, rng, "conv7x7 s2 pad 3,3,2,2",
            Pick(s, new ConvSpec(3, 8, 7, 7, 2, 3, 3, 2, 2), new ConvSpec(3, 64, 7, 7, 2, 3, 3, 2, 2), new ConvSpec(3, 64, 7, 7, 2, 3, 3, 2, 2)),
            Pick(s, 1, 2, 4), Pick(s, 12, 64, 224), residual: false, relu: true, tf)),
        ("conv1x1 residual", (b, r, s, rng, tf) => ConvCase(b, r, rng, "conv1x1 residual",
            Pick(s, new ConvSpec(6, 10, 1, 1, 1, 0, 0, 0, 0), new ConvSpec(32, 64, 1, 1, 1, 0, 0, 0, 0), new ConvSpec(256, 1024, 1, 1, 1, 0, 0, 0, 0)),
            Pick(s, 2, 3, 4), Pick(s, 5, 14, 14), residual: true, relu: false, tf)),
        ("conv1x1 s2", (b, r, s, rng, tf) => ConvCase(b, r, rng, "conv1x1 s2",
            Pick(s, new ConvSpec(6, 10, 1, 1, 2, 0, 0, 0, 0), new ConvSpec(64, 128, 1, 1, 2, 0, 0, 0, 0), new ConvSpec(128, 256, 1, 1, 2, 0, 0, 0, 0)),
            Pick(s, 2, 2, 4), Pick(s, 7, 56, 28), residual: false, relu: false, tf)),
        ("relu", (b, r, s, rng, _) => Unary(b, r, rng, "relu", Pick<int[]>(s, [2, 3, 5, 7], [4, 64, 56, 56], [16, 64, 56, 56]), (k, x) => k.Relu(x))),
        ("add", (b, r, s, rng, _) => Binary(b, r, rng, "add", Pick<int[]>(s, [2, 3, 5, 7], [4, 64, 56, 56], [16, 64, 56, 56]), (k, x, y) => k.Add(x, y))),
        ("maxpool3x3 s2 pad 1,1,0,0", (b, r, s, rng, _) => Unary(b, r, rng, "maxpool3x3 s2 pad 1,1,0,0", Pick<int[]>(s, [2, 3, 9, 8], [4, 64, 112, 112], [16, 64, 112, 112]),
            (k, x) => k.MaxPool2d(x, new PoolSpec(3, 2, 1, 1, 0, 0)))),
        ("maxpool3x3 s2 pad 1", (b, r, s, rng, _) => Unary(b, r, rng, "maxpool3x3 s2 pad 1", Pick<int[]>(s, [2, 3, 9, 8], [4, 64, 112, 112], [16, 64, 112, 112]),
            (k, x) => k.MaxPool2d(x, new PoolSpec(3, 2, 1, 1, 1, 1)))),
        ("avgpool3x3 s1 pad 1", (b, r, s, rng, _) => Unary(b, r, rng, "avgpool3x3 s1 pad 1", Pick<int[]>(s, [2, 3, 6, 5], [4, 128, 28, 28], [16, 256, 14, 14]),
            (k, x) => k.AvgPool2d(x, new PoolSpec(3, 1, 1, 1, 1, 1)))),
        ("global avgpool", (b, r, s, rng, _) => Unary(b, r, rng, "global avgpool", Pick<int[]>(s, [2, 3, 5, 4], [4, 256, 14, 14], [16, 512, 7, 7]), (k, x) => k.GlobalAvgPool(x))),
        ("aggregate official", (b, r, s, rng, _) => Aggregate(b, r, rng, "aggregate official", s, AggregationMode.Official)),
        ("aggregate anomalib", (b, r, s, rng, _) => Aggregate(b, r, rng, "aggregate anomalib", s, AggregationMode.Anomalib)),
        ("matmul", (b, r, s, rng, _) => Binary2(b, r, rng, "matmul", Pick<int[]>(s, [70, 37], [1000, 1024], [4096, 1024]), Pick<int[]>(s, [37, 67], [1024, 128], [1024, 128]),
            (k, x, y) => k.MatMul(x, y))),
        ("pairwise distances", (b, r, s, rng, _) => Binary2(b, r, rng, "pairwise distances", Pick<int[]>(s, [33, 20], [500, 1024], [2000, 1024]), Pick<int[]>(s, [70, 20], [700, 1024], [500, 1024]),
            (k, x, y) => k.PairwiseSquaredDistances(x, y))),
        ("nearest neighbours k=1", (b, r, s, rng, _) => Neighbours(b, r, rng, "nearest neighbours k=1", Pick(s, 40, 500, 2000), Pick(s, 90, 700, 500), Pick(s, 16, 256, 1024), 1, null)),
        ("nearest neighbours k=3", (b, r, s, rng, _) => Neighbours(b, r, rng, "nearest neighbours k=3", Pick(s, 40, 500, 2000), Pick(s, 90, 700, 500), Pick(s, 16, 256, 1024), 3, null)),
        // Tiles far smaller than the problem, so the running top-k is carried across query and database tiles.
        ("nearest neighbours k=5 tiled", (b, r, s, rng, _) => Neighbours(b, r, rng, "nearest neighbours k=5 tiled", Pick(s, 37, 300, 2000), Pick(s, 50, 500, 500), Pick(s, 9, 48, 1024), 5,
            Pick(s, (16, 12), (64, 96), (64, 96)))),
        ("greedy coreset", (b, r, s, rng, _) => Coreset(b, r, rng, "greedy coreset", Pick(s, 300, 5000, 20000), Pick(s, 8, 128, 128), Pick(s, 6, 200, 400), half: false)),
        ("greedy coreset fp16", (b, r, s, rng, _) => Coreset(b, r, rng, "greedy coreset fp16", Pick(s, 300, 5000, 20000), Pick(s, 8, 128, 128), Pick(s, 6, 200, 400), half: true)),
        ("anomaly maps sigma 4", (b, r, s, rng, _) => Maps(b, r, rng, "anomaly maps sigma 4", Pick(s, 2, 4, 8), Pick(s, 5, 28, 28), Pick(s, 13, 224, 224), Pick(s, 11, 224, 224), 4f)),
        ("anomaly maps sigma 1.5", (b, r, s, rng, _) => Maps(b, r, rng, "anomaly maps sigma 1.5", 2, Pick(s, 4, 28, 28), Pick(s, 9, 64, 224), Pick(s, 17, 80, 224), 1.5f)),
    ];

    public static IReadOnlyList<string> OpNames { get; } = Array.ConvertAll(Cases, c => c.Name);

    /// <summary>The convolution cases (their tolerance is <see cref="Tf32Tolerance"/> when tf32 is set).</summary>
    public static IReadOnlyList<string> ConvOpNames { get; } = Array.FindAll(Array.ConvertAll(Cases, c => c.Name), n => n.StartsWith("conv", StringComparison.Ordinal));

    /// <summary>Every op; a thrown exception becomes a failing row with the message. <paramref name="tf32"/>:
    /// the backend may run convolutions on TF32 tensor cores, so they are held to <see cref="Tf32Tolerance"/>.</summary>
    public static IReadOnlyList<SelfCheckRow> Run(IBackend backend, IBackend reference, SelfCheckSize size = SelfCheckSize.Moderate, int seed = 1, bool tf32 = false)
    {
        var rows = new List<SelfCheckRow>();
        foreach (var (name, _) in Cases) rows.Add(RunOne(backend, reference, name, size, seed, tf32));
        return rows;
    }

    /// <summary>One op; <paramref name="reference"/> computes the expected values (it is not poisoned).</summary>
    public static SelfCheckRow RunOne(IBackend backend, IBackend reference, string op, SelfCheckSize size = SelfCheckSize.Moderate, int seed = 1, bool tf32 = false)
    {
        var c = Array.Find(Cases, x => x.Name == op);
        if (c.Run is null) throw new ArgumentException($"unknown self-check op '{op}'");
        var poisonable = backend as IPoisonableBackend;
        bool poisoned = poisonable?.PoisonAllocations ?? false;
        if (poisonable is not null) poisonable.PoisonAllocations = true;
        try
        {
            return c.Run(backend, reference, size, new Random(seed * 7919 + op.Length), tf32);
        }
        catch (Exception e)
        {
            return new SelfCheckRow(op, "error: " + OneLine(e), double.PositiveInfinity, Tolerance, false);
        }
        finally
        {
            if (poisonable is not null) poisonable.PoisonAllocations = poisoned;
        }
    }

    // ---- cases ------------------------------------------------------------------------------------------

    static T Pick<T>(SelfCheckSize s, T tiny, T moderate, T realistic) =>
        s switch { SelfCheckSize.Tiny => tiny, SelfCheckSize.Moderate => moderate, _ => realistic };

    static SelfCheckRow ConvCase(IBackend b, IBackend r, Random rng, string name, ConvSpec spec, int n, int hw, bool residual, bool relu, bool tf32)
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
        return Row(name, $"N{n} {spec.InChannels}->{spec.OutChannels} k{spec.KernelH} s{spec.Stride} {hw}x{hw}", Error(Run(b), Run(r)),
            tf32 ? Tf32Tolerance : Tolerance);
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

    static SelfCheckRow Neighbours(IBackend b, IBackend r, Random rng, string name, int m, int n, int dim, int k, (int Query, int Database)? tiles)
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
            var tiled = tiles is null ? null : be as ITiledNeighboursBackend;
            var saved = tiled?.NeighbourTiles ?? default;
            if (tiled is not null) tiled.NeighbourTiles = tiles!.Value;
            try { be.NearestNeighbours(qt, xt, k, d, idx); }
            finally { if (tiled is not null) tiled.NeighbourTiles = saved; }
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
            // A different index is acceptable only for a near tie: the returned row's exact distance (in double)
            // equals the reference's distance at that rank to within the tolerance (fp32 GEMM vs double loop may
            // order near-equal rows differently).
            if (gi[i] < 0 || gi[i] >= n) { err = Math.Max(err, 1); break; }
            int row = i / k;
            double exact = 0;
            for (int j = 0; j < dim; j++) { double t = (double)q[row * dim + j] - x[(long)gi[i] * dim + j]; exact += t * t; }
            if (Math.Abs(gd[i] - rd[i]) > Tolerance * scale || Math.Abs(exact - rd[i]) > Tolerance * Math.Max(1, scale)) { err = Math.Max(err, 1); break; }
        }
        string tileText = tiles is { } tl ? (b is ITiledNeighboursBackend ? $" tiles {tl.Query}x{tl.Database}" : " (untiled backend)") : "";
        return Row(name, $"q{m} db{n} d{dim} k{k}{tileText}", err);
    }

    static SelfCheckRow Coreset(IBackend b, IBackend r, Random rng, string name, int n, int dim, int count, bool half)
    {
        float[] f = RandomData(rng, (long)n * dim, 1);
        // fp16 storage: the reference runs on the same fp16-rounded values, so the selection must still be
        // identical. A backend without the fp16 option runs the rounded values in fp32 (still a valid case).
        if (half) for (int i = 0; i < f.Length; i++) f[i] = (float)(Half)f[i];
        int[] starts = [rng.Next(n), rng.Next(n), rng.Next(n)];
        var fp16 = half ? b as IFp16CoresetBackend : null;
        int[] Run(IBackend k)
        {
            using var t = k.Upload(f, n, dim);
            return k.GreedyCoreset(t, count, starts);
        }
        int[] g;
        bool saved = fp16?.CoresetFloat16 ?? false;
        if (fp16 is not null) fp16.CoresetFloat16 = true;
        try { g = Run(b); }
        finally { if (fp16 is not null) fp16.CoresetFloat16 = saved; }
        int[] e = Run(r);
        int mismatches = 0;
        for (int i = 0; i < count; i++) if (g.Length != count || g[i] != e[i]) mismatches++;
        // Selection must be identical: any mismatch fails (error = 1 + fraction of differing picks).
        double err = mismatches == 0 ? 0 : mismatches / (double)count + 1;
        string storage = !half ? "" : fp16 is not null ? " fp16 storage" : " fp16-rounded (no fp16 storage)";
        return Row(name, $"N{n} d{dim} select {count}{storage}", err);
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

    static SelfCheckRow Row(string op, string shape, double err, double tolerance = Tolerance) => new(op, shape, err, tolerance, err <= tolerance);

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

    /// <summary>Driver and ILGPU errors are long and nested; a row holds one line.</summary>
    static string OneLine(Exception e)
    {
        while (e.InnerException is not null && (e is TypeInitializationException || e.Message.Length == 0)) e = e.InnerException;
        string msg = $"{e.GetType().Name}: {e.Message}";
        int nl = msg.IndexOfAny(['\r', '\n']);
        return nl < 0 ? msg : msg[..nl];
    }

    /// <summary>max|a − r| / max|r|; NaN or Inf anywhere (a poisoned element never written) or a length mismatch
    /// gives +inf.</summary>
    public static double Error(ReadOnlySpan<float> actual, ReadOnlySpan<float> reference)
    {
        if (actual.Length != reference.Length) return double.PositiveInfinity;
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            if (!float.IsFinite(actual[i]) || !float.IsFinite(reference[i])) return double.PositiveInfinity;
            maxDiff = Math.Max(maxDiff, Math.Abs((double)actual[i] - reference[i]));
            maxRef = Math.Max(maxRef, Math.Abs((double)reference[i]));
        }
        return maxRef == 0 ? maxDiff : maxDiff / maxRef;
    }
}
