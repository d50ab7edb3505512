using PatchCore.Backbone;
using PatchCore.Backends;
using PatchCore.Weights;
using static PatchCore.Cli.Commands.BenchKernelCase;

namespace PatchCore.Cli.Commands;

/// <summary>
/// What `bench kernels` times: every <see cref="IBackend"/> op (memory transfers included) at the shapes of one
/// <see cref="BenchKernelSizes"/> preset, all through the interface, and the backbone to layer3 when weights are
/// given. Inputs are uniform in [-1, 1) from a fixed seed per case.
/// </summary>
public static class BenchKernelCases
{
    /// <summary>The ops of <see cref="IBackend"/> a case list must cover (everything but setup and disposal).</summary>
    public static IReadOnlyList<string> Ops { get; } =
    [
        nameof(IBackend.Upload), nameof(IBackend.Download), nameof(IBackend.Conv2d), nameof(IBackend.Relu), nameof(IBackend.Add),
        nameof(IBackend.MaxPool2d), nameof(IBackend.AvgPool2d), nameof(IBackend.GlobalAvgPool), nameof(IBackend.AggregatePatchFeatures),
        nameof(IBackend.MatMul), nameof(IBackend.PairwiseSquaredDistances), nameof(IBackend.NearestNeighbours),
        nameof(IBackend.GreedyCoreset), nameof(IBackend.AnomalyMaps),
    ];

    public const string BackboneOp = "ResNet to layer3";

    public static List<BenchKernelCase> For(BenchKernelSizes s, WeightFile? weights = null)
    {
        var cases = new List<BenchKernelCase>();
        int[] tr = s.Transfer;
        long trLen = Tensors.Tensor.ShapeLength(tr);
        cases.Add(new(nameof(IBackend.Upload), Shape(tr), b =>
        {
            var host = Rand(trLen, 1);
            return new(() => b.Upload(host, tr), trLen);
        }) { HostLink = true, Bytes = _ => 4.0 * trLen });
        cases.Add(new(nameof(IBackend.Download), Shape(tr), b =>
        {
            var host = new float[trLen];
            var x = b.Upload(Rand(trLen, 2), tr);
            return new(() => { b.Download(x, host); return null; }, trLen, x);
        }) { HostLink = true, Bytes = _ => 4.0 * trLen });

        foreach (var (name, spec, h) in s.Convs)
        {
            int n = s.Batch;
            cases.Add(new(nameof(IBackend.Conv2d), $"{name} N{n} {spec.InChannels}x{h}x{h}->{spec.OutChannels}", b =>
            {
                var x = b.Upload(Rand((long)n * spec.InChannels * h * h, 3), n, spec.InChannels, h, h);
                var conv = b.CreateConv(spec, Rand(spec.WeightLength, 4), Rand(spec.OutChannels, 5));
                return new(() => b.Conv2d(x, conv, null, relu: true), x.Length, x, conv);
            }) { Flops = 2.0 * spec.Macs(h, h) * n });
        }

        int[] act = s.Activation;
        cases.Add(Unary(nameof(IBackend.Relu), "", act, 6, (b, x) => b.Relu(x)));
        cases.Add(new(nameof(IBackend.Add), Shape(act), b =>
        {
            var x = b.Upload(Rand(Tensors.Tensor.ShapeLength(act), 7), act);
            var y = b.Upload(Rand(Tensors.Tensor.ShapeLength(act), 8), act);
            return new(() => b.Add(x, y), 2 * x.Length, x, y);
        }));
        cases.Add(Unary(nameof(IBackend.MaxPool2d), "3x3/2 pad 1,1,0,0 ", act, 9, (b, x) => b.MaxPool2d(x, new PoolSpec(3, 2, 1, 1, 0, 0))));
        cases.Add(Unary(nameof(IBackend.AvgPool2d), "3x3/1 pad 1 ", s.PoolInput, 10, (b, x) => b.AvgPool2d(x, new PoolSpec(3, 1, 1, 1, 1, 1))));
        cases.Add(Unary(nameof(IBackend.GlobalAvgPool), "", s.PoolInput, 11, (b, x) => b.GlobalAvgPool(x)));

        var ag = s.Aggregate;
        foreach (var mode in new[] { AggregationMode.Official, AggregationMode.Anomalib })
        {
            var spec = new AggregationSpec(mode, 3, ag.PretrainDim, ag.TargetDim);
            cases.Add(new(nameof(IBackend.AggregatePatchFeatures), $"{mode} N{ag.N} {ag.C2}x{ag.H2}x{ag.H2}+{ag.C3}x{ag.H3}x{ag.H3}", b =>
            {
                var l2 = b.Upload(Rand((long)ag.N * ag.C2 * ag.H2 * ag.H2, 12), ag.N, ag.C2, ag.H2, ag.H2);
                var l3 = b.Upload(Rand((long)ag.N * ag.C3 * ag.H3 * ag.H3, 13), ag.N, ag.C3, ag.H3, ag.H3);
                return new(() => b.AggregatePatchFeatures(l2, l3, spec), l2.Length + l3.Length, l2, l3);
            }));
        }

        var mm = s.MatMul;
        cases.Add(new(nameof(IBackend.MatMul), $"projection {mm.M}x{mm.K}x{mm.N}", b =>
        {
            var a = b.Upload(Rand((long)mm.M * mm.K, 14), mm.M, mm.K);
            var p = b.Upload(Rand((long)mm.K * mm.N, 15), mm.K, mm.N);
            return new(() => b.MatMul(a, p), a.Length + p.Length, a, p);
        }) { Flops = 2.0 * mm.M * mm.K * mm.N });

        var pd = s.Pairwise;
        cases.Add(new(nameof(IBackend.PairwiseSquaredDistances), $"{pd.M}x{pd.N}x{pd.D}", b =>
        {
            var q = b.Upload(Rand((long)pd.M * pd.D, 16), pd.M, pd.D);
            var x = b.Upload(Rand((long)pd.N * pd.D, 17), pd.N, pd.D);
            return new(() => b.PairwiseSquaredDistances(q, x), q.Length + x.Length, q, x);
        }) { Flops = 2.0 * pd.M * pd.N * pd.D });

        var nn = s.Neighbours;
        cases.Add(new(nameof(IBackend.NearestNeighbours), $"k=1 {nn.M}x{nn.N}x{nn.D}", b =>
        {
            var q = b.Upload(Rand((long)nn.M * nn.D, 18), nn.M, nn.D);
            var x = b.Upload(Rand((long)nn.N * nn.D, 19), nn.N, nn.D);
            var dist = new float[nn.M];
            var idx = new int[nn.M];
            return new(() => { b.NearestNeighbours(q, x, 1, dist, idx); return null; }, q.Length + x.Length, q, x);
        }) { Flops = 2.0 * nn.M * nn.N * nn.D });

        var cs = s.Coreset;
        cases.Add(new(nameof(IBackend.GreedyCoreset), $"{cs.N}x{cs.D} select {cs.Count}", b =>
        {
            var f = b.Upload(Rand((long)cs.N * cs.D, 20), cs.N, cs.D);
            var r = new Random(21);
            int[] starts = new int[10];
            for (int i = 0; i < starts.Length; i++) starts[i] = r.Next(cs.N);
            return new(() => { b.GreedyCoreset(f, cs.Count, starts); return null; }, f.Length, f);
        })
        {
            // Each selection is one pass over the stored features: half the bytes when they are kept in fp16.
            Bytes = variant => (double)cs.Count * cs.N * cs.D * (variant.StartsWith("fp16", StringComparison.Ordinal) ? 2 : 4),
            SingleRun = true,
        });

        var mp = s.Maps;
        cases.Add(new(nameof(IBackend.AnomalyMaps), $"sigma 4 N{mp.N} {mp.Grid}x{mp.Grid}->{mp.Out}x{mp.Out}", b =>
        {
            var g = b.Upload(Rand((long)mp.N * mp.Grid * mp.Grid, 22), mp.N, mp.Grid, mp.Grid);
            return new(() => b.AnomalyMaps(g, mp.Out, mp.Out, 4f), g.Length, g);
        }));

        if (weights != null && s.BackboneBatch > 0)
        {
            int n = s.BackboneBatch;
            cases.Add(new(BackboneOp, $"N{n} 3x224x224", b =>
            {
                var net = ResNet.Load(b, weights);
                var x = b.Upload(Rand((long)n * 3 * 224 * 224, 23), n, 3, 224, 224);
                return new(() =>
                {
                    var maps = net.Forward(x, "layer2", "layer3");
                    maps[0].Dispose();
                    return maps[1];
                }, x.Length, x, net);
            }) { Images = n, VariantsOf = nameof(IBackend.Conv2d) });
        }
        return cases;
    }

    static BenchKernelCase Unary(string op, string label, int[] shape, int seed, Func<IBackend, DeviceTensor, DeviceTensor> f) =>
        new(op, label + Shape(shape), b =>
        {
            var x = b.Upload(Rand(Tensors.Tensor.ShapeLength(shape), seed), shape);
            return new(() => f(b, x), x.Length, x);
        });

    static string Shape(int[] s) => "[" + string.Join(",", s) + "]";

    /// <summary>
    /// n values uniform in [-1, 1): a window, starting where the seed says, of one random pool of at most 2^25
    /// values, repeated if n is larger. The device sizes upload about 3 GB; drawing each value anew took longer
    /// than timing the kernels, and a kernel's speed does not depend on which random values it reads.
    /// </summary>
    static float[] Rand(long n, int seed)
    {
        var pool = Pool(n);
        var a = new float[n];
        long at = (long)seed * 7919 % pool.Length;
        for (long i = 0; i < n;)
        {
            int len = (int)Math.Min(n - i, pool.Length - at);
            Array.Copy(pool, at, a, i, len);
            i += len;
            at = 0;
        }
        return a;
    }

    static float[] s_pool = [];

    static float[] Pool(long n)
    {
        long want = Math.Min(Math.Max(n, 1 << 16), 1L << 25);
        if (s_pool.Length >= want) return s_pool;
        var r = new Random(1);
        var p = new float[want];
        for (long i = 0; i < want; i++) p[i] = r.NextSingle() * 2 - 1;
        return s_pool = p;
    }
}
