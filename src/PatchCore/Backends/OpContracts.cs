namespace PatchCore.Backends;

/// <summary>
/// The argument check of every <see cref="IBackend"/> op, one method per op, called first thing at each op's
/// entry by all four backends (reference, cpu, gpu, cuda). Having one check means a bad input fails the same
/// way, with the same message, whichever backend runs it: before this class each backend checked on its own
/// and they had drifted (only CUDA rejected a conv input smaller than its kernel; only ILGPU and CUDA a pooling
/// window larger than its input; only CUDA a k above 32). Where they disagreed the strictest sensible rule won.
///
/// Messages start with the op's IBackend name and say what was given and what was needed. Checks that depend
/// on who made an object (a tensor or conv layer of another backend) stay in the backend: they are not about
/// the arguments' values. Relu takes any tensor, so it has no method here.
/// </summary>
public static class OpContracts
{
    /// <summary>Largest k of <see cref="IBackend.NearestNeighbours"/>: the CUDA kernel keeps a per-thread
    /// candidate list of this length, and every backend holds to the same bound so a run that works on the CPU
    /// also works on the GPU (PatchCore uses k = 1; the paper never goes past a few).</summary>
    public const int MaxNeighbours = 32;

    // ---- memory -------------------------------------------------------------------------------------

    public static void Upload(int dataLength, int[] shape)
    {
        long n = Tensors.Tensor.ShapeLength(shape);
        if (dataLength != n)
            throw new ArgumentException($"Upload: {dataLength} values into shape [{string.Join(",", shape)}], which holds {n}");
    }

    public static void Download(DeviceTensor source, int destinationLength)
    {
        if (destinationLength < source.Length)
            throw new ArgumentException($"Download: destination of {destinationLength} values is too small for {source.ShapeString} ({source.Length} values)");
    }

    // ---- backbone -----------------------------------------------------------------------------------

    public static void CreateConv(ConvSpec spec, int weightLength, int biasLength)
    {
        if (spec.InChannels < 1 || spec.OutChannels < 1 || spec.KernelH < 1 || spec.KernelW < 1 || spec.Stride < 1
            || spec.PadTop < 0 || spec.PadLeft < 0 || spec.PadBottom < 0 || spec.PadRight < 0)
            throw new ArgumentException($"CreateConv: {Describe(spec)} needs positive channels, kernel and stride and non-negative pads");
        if (weightLength != spec.WeightLength)
            throw new ArgumentException($"CreateConv: weight has {weightLength} values, the {Describe(spec)} needs {spec.WeightLength}");
        if (biasLength != spec.OutChannels)
            throw new ArgumentException($"CreateConv: bias has {biasLength} values, {spec.OutChannels} output channels need as many");
    }

    /// <summary>x [N, Cin, H, W] at least as large as the padded kernel; residual, if any, of the output's shape.
    /// Returns the output size.</summary>
    public static (int OutH, int OutW) Conv2d(DeviceTensor x, ConvSpec spec, DeviceTensor? residual)
    {
        if (x.Rank != 4 || x[1] != spec.InChannels)
            throw new ArgumentException($"Conv2d: input {x.ShapeString} must be [N, {spec.InChannels}, H, W] for the {Describe(spec)}");
        int h = x[2], w = x[3];
        // Strictest of the backends (CUDA's): an input smaller than the padded kernel has no output pixel; the
        // others used to return an empty or negative-sized tensor.
        if (h + spec.PadTop + spec.PadBottom < spec.KernelH || w + spec.PadLeft + spec.PadRight < spec.KernelW)
            throw new ArgumentException($"Conv2d: input {x.ShapeString} is smaller than the padded kernel of the {Describe(spec)}");
        int oh = spec.OutH(h), ow = spec.OutW(w);
        if (residual is not null && (residual.Rank != 4 || residual[0] != x[0] || residual[1] != spec.OutChannels || residual[2] != oh || residual[3] != ow))
            throw new ArgumentException($"Conv2d: residual {residual.ShapeString} differs from the output [{x[0]},{spec.OutChannels},{oh},{ow}]");
        return (oh, ow);
    }

    public static void Add(DeviceTensor a, DeviceTensor b)
    {
        if (!a.Shape.AsSpan().SequenceEqual(b.Shape))
            throw new ArgumentException($"Add: shapes {a.ShapeString} and {b.ShapeString} differ");
    }

    /// <summary>x [N, C, H, W] at least as large as the padded window (ILGPU's and CUDA's rule; the CPU backends
    /// used to return an empty tensor). Returns the output size.</summary>
    public static (int OutH, int OutW) MaxPool2d(DeviceTensor x, PoolSpec pool) => Pool2d(nameof(MaxPool2d), x, pool);
    public static (int OutH, int OutW) AvgPool2d(DeviceTensor x, PoolSpec pool) => Pool2d(nameof(AvgPool2d), x, pool);

    static (int OutH, int OutW) Pool2d(string op, DeviceTensor x, PoolSpec pool)
    {
        if (pool.Kernel < 1 || pool.Stride < 1 || pool.PadTop < 0 || pool.PadLeft < 0 || pool.PadBottom < 0 || pool.PadRight < 0)
            throw new ArgumentException($"{op}: {Describe(pool)} needs a positive window and stride and non-negative pads");
        if (x.Rank != 4) throw new ArgumentException($"{op}: input {x.ShapeString} must be [N, C, H, W]");
        int h = x[2], w = x[3];
        if (h + pool.PadTop + pool.PadBottom < pool.Kernel || w + pool.PadLeft + pool.PadRight < pool.Kernel)
            throw new ArgumentException($"{op}: input {x.ShapeString} is smaller than the padded {Describe(pool)}");
        return (pool.OutH(h), pool.OutW(w));
    }

    public static void GlobalAvgPool(DeviceTensor x)
    {
        if (x.Rank != 4) throw new ArgumentException($"GlobalAvgPool: input {x.ShapeString} must be [N, C, H, W]");
        // The mean of an empty plane is 0/0; reject it rather than hand back NaN.
        if (x[2] < 1 || x[3] < 1) throw new ArgumentException($"GlobalAvgPool: input {x.ShapeString} has empty planes");
    }

    // ---- patch features -----------------------------------------------------------------------------

    public static void AggregatePatchFeatures(DeviceTensor layer2, DeviceTensor layer3, AggregationSpec spec)
    {
        if (layer2.Rank != 4 || layer3.Rank != 4)
            throw new ArgumentException($"AggregatePatchFeatures: needs NCHW maps, got layer2 {layer2.ShapeString} and layer3 {layer3.ShapeString}");
        if (layer2[0] != layer3[0])
            throw new ArgumentException($"AggregatePatchFeatures: layer2 {layer2.ShapeString} and layer3 {layer3.ShapeString} have different batch sizes");
        if (spec.PatchSize < 1 || spec.PatchSize % 2 == 0)
            throw new ArgumentException($"AggregatePatchFeatures: patch size {spec.PatchSize} must be odd (stride 1 with 'same' padding keeps layer2's grid)");
        if (spec.Mode == AggregationMode.Official && (spec.PretrainDim < 1 || spec.TargetDim < 1))
            throw new ArgumentException($"AggregatePatchFeatures: PretrainDim {spec.PretrainDim} and TargetDim {spec.TargetDim} must be positive");
    }

    // ---- linear algebra, coreset, search ------------------------------------------------------------

    /// <summary>a [M, K] · b [K, N] → (M, K, N).</summary>
    public static (int M, int K, int N) MatMul(DeviceTensor a, DeviceTensor b)
    {
        if (a.Rank != 2 || b.Rank != 2 || a[1] != b[0])
            throw new ArgumentException($"MatMul: {a.ShapeString} · {b.ShapeString} needs [M,K]·[K,N]");
        return (a[0], a[1], b[1]);
    }

    /// <summary>Queries [M, D] and database [K, D] → (M, K, D).</summary>
    public static (int M, int K, int D) PairwiseSquaredDistances(DeviceTensor queries, DeviceTensor database) =>
        Rows(nameof(PairwiseSquaredDistances), queries, database);

    /// <summary>Queries [M, D], database [K, D], 1 ≤ k ≤ min(K, <see cref="MaxNeighbours"/>), outputs of M·k
    /// values at least → (M, K, D).</summary>
    public static (int M, int K, int D) NearestNeighbours(DeviceTensor queries, DeviceTensor database, int k, int distancesLength, int indicesLength)
    {
        var (m, rows, d) = Rows(nameof(NearestNeighbours), queries, database);
        if (k < 1 || k > MaxNeighbours)
            throw new ArgumentException($"NearestNeighbours: k = {k} is outside 1..{MaxNeighbours}");
        if (k > rows)
            throw new ArgumentException($"NearestNeighbours: k = {k} nearest neighbours of a database of {rows} rows");
        if (distancesLength < (long)m * k || indicesLength < (long)m * k)
            throw new ArgumentException($"NearestNeighbours: outputs need {(long)m * k} elements, got {distancesLength} distances and {indicesLength} indices");
        return (m, rows, d);
    }

    static (int M, int K, int D) Rows(string op, DeviceTensor queries, DeviceTensor database)
    {
        if (queries.Rank != 2 || database.Rank != 2 || queries[1] != database[1])
            throw new ArgumentException($"{op}: queries {queries.ShapeString} and database {database.ShapeString} need [M,D] and [K,D]");
        return (queries[0], database[0], queries[1]);
    }

    public static void GreedyCoreset(DeviceTensor features, int count, ReadOnlySpan<int> starts)
    {
        if (features.Rank != 2) throw new ArgumentException($"GreedyCoreset: features {features.ShapeString} must be [N, d]");
        int n = features[0];
        if (count < 0 || count > n) throw new ArgumentException($"GreedyCoreset: cannot select {count} rows out of {n}");
        if (starts.Length == 0) throw new ArgumentException("GreedyCoreset: needs at least one starting row");
        foreach (int s in starts)
            if ((uint)s >= (uint)n) throw new ArgumentException($"GreedyCoreset: start row {s} outside 0..{n - 1}");
    }

    // ---- anomaly maps -------------------------------------------------------------------------------

    public static void AnomalyMaps(DeviceTensor patchScores, int outH, int outW, float sigma)
    {
        if (patchScores.Rank != 3) throw new ArgumentException($"AnomalyMaps: patch scores {patchScores.ShapeString} must be [N, gh, gw]");
        if (patchScores[1] < 1 || patchScores[2] < 1) throw new ArgumentException($"AnomalyMaps: patch-score grid {patchScores.ShapeString} is empty");
        if (outH < 1 || outW < 1) throw new ArgumentException($"AnomalyMaps: map size {outH}x{outW} must be positive");
        // Infinite sigma would ask for an infinite kernel; NaN fails the comparison.
        if (!(sigma >= 0) || float.IsInfinity(sigma)) throw new ArgumentException($"AnomalyMaps: Gaussian sigma {sigma} must be finite and non-negative (0 = no blur)");
    }

    // The records' own ToString lists every property (WeightLength included); a message wants the geometry.
    static string Describe(ConvSpec s) =>
        $"{s.KernelH}x{s.KernelW} conv {s.InChannels}->{s.OutChannels} stride {s.Stride} pad {s.PadTop},{s.PadLeft},{s.PadBottom},{s.PadRight}";

    static string Describe(PoolSpec p) =>
        $"{p.Kernel}x{p.Kernel} window stride {p.Stride} pad {p.PadTop},{p.PadLeft},{p.PadBottom},{p.PadRight}";
}
