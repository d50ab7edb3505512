using System.Diagnostics;
using System.Text.Json;
using PatchCore.Backbone;
using PatchCore.Backends;
using PatchCore.Backends.Reference;
using PatchCore.Cuda;
using PatchCore.Weights;

namespace PatchCore.Cli.Commands;

/// <summary>
/// `pcnative bench kernels [--backend cuda|gpu|cpu] [--tf32] [--check]`. Per kernel the median time over repeated
/// launches after a warm-up (cuEvent timing on cuda, wall clock with a read-back elsewhere), the achieved GB/s or
/// TFLOP/s and its ratio to ceilings measured in the same run: device-to-device copy bandwidth and cuBLAS SGEMM /
/// TF32 rates at 8192³. `--check` instead compares every op with the reference backend.
/// </summary>
public static class BenchKernels
{
    sealed record Row(string Kernel, string Shape, double Ms, string Rate, string OfCeiling);

    public static int Run(BenchCommand o)
    {
        using var backend = BackendFactory.Create(new BackendFactory.Options(o.Backend, o.Threads, o.Tf32));
        string wanted = o.Backend.ToLowerInvariant();
        if (wanted is "cuda" or "gpu" && backend.Name != wanted)
        {
            Console.WriteLine($"FAIL: backend {wanted} did not start (see the line above); nothing measured on it");
            return 1;
        }
        Console.WriteLine($"backend: {backend.Description}");
        if (o.Check) return Check(backend, o.Tf32);
        return backend is CudaBackend cuda ? BenchCuda(cuda, o) : BenchGeneric(backend, o);
    }

    static int Check(IBackend backend, bool tf32)
    {
        var sw = Stopwatch.StartNew();
        using var reference = new ReferenceBackend();
        var rows = BackendSelfCheck.Run(backend, reference, SelfCheckSize.Moderate, tf32: tf32);
        Console.WriteLine($"{"op",-28} {"shape",-40} {"rel.err",10} {"tol",8} result");
        foreach (var r in rows) Console.WriteLine(r);
        int fails = rows.Count(r => !r.Pass);
        Console.WriteLine($"check {backend.Name}{(tf32 ? " tf32" : "")}: {rows.Count - fails}/{rows.Count} PASS in {sw.Elapsed.TotalSeconds:F1} s");
        return fails == 0 ? 0 : 1;
    }

    static float[] Rand(long n, int seed)
    {
        var r = new Random(seed);
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = (float)(r.NextDouble() * 2 - 1);
        return a;
    }

    static int BenchCuda(CudaBackend b, BenchCommand o)
    {
        int reps = o.Repeats > 0 ? o.Repeats : 10;
        bool quick = o.Quick;
        var rows = new List<Row>();
        void Print(Row r)
        {
            rows.Add(r);
            Console.WriteLine($"{r.Kernel,-34} {r.Shape,-34} {r.Ms,10:F3} ms  {r.Rate,-16} {r.OfCeiling}");
        }
        Console.WriteLine($"{"kernel",-34} {"shape",-34} {"median",13}  {"rate",-16} of ceiling");

        // ---- ceilings --------------------------------------------------------------------------------
        long copyFloats = quick ? 32L << 20 : 256L << 20; // 1 GiB
        double bw;
        using (var src = b.Allocate((int)copyFloats))
        using (var dst = b.Allocate((int)copyFloats))
        {
            b.Fill(src, 1f);
            double ms = b.TimeMs(() => b.Copy(src, dst), reps);
            bw = 2.0 * copyFloats * 4 / (ms * 1e-3) / 1e9;
            Print(new("ceiling: cuMemcpyDtoD", $"{copyFloats * 4 >> 20} MiB", ms, $"{bw:F0} GB/s", "100%"));
        }
        int gn = quick ? 2048 : 8192;
        double sgemm, tf32;
        using (var a = b.Upload(Rand((long)gn * gn, 1), gn, gn))
        using (var bb = b.Upload(Rand((long)gn * gn, 2), gn, gn))
        using (var c = b.Allocate(gn, gn))
        {
            double flop = 2.0 * gn * gn * gn;
            double ms = b.TimeMs(() => b.SquareGemm(a, bb, c, gn, false), reps);
            sgemm = flop / (ms * 1e-3) / 1e12;
            Print(new("ceiling: cuBLAS SGEMM fp32", $"{gn}^3", ms, $"{sgemm:F1} TFLOP/s", "100%"));
            ms = b.TimeMs(() => b.SquareGemm(a, bb, c, gn, true), reps);
            tf32 = flop / (ms * 1e-3) / 1e12;
            Print(new("ceiling: cuBLAS SGEMM TF32", $"{gn}^3", ms, $"{tf32:F1} TFLOP/s", "100%"));
        }
        string OfBw(double gbs) => $"{100 * gbs / bw:F0}% of copy";
        string OfGemm(double tfs, bool t) => $"{100 * tfs / (t ? tf32 : sgemm):F0}% of {(t ? "TF32" : "SGEMM")}";

        // ---- ResNet18 convolutions at batch 256 (224 input) ---------------------------------------------
        int batch = quick ? 16 : 256;
        var convs = new (string Name, ConvSpec Spec, int H)[]
        {
            ("conv1 7x7/2", new ConvSpec(3, 64, 7, 7, 2, 3, 3, 2, 2), 224),
            ("layer1 3x3", new ConvSpec(64, 64, 3, 3, 1, 1, 1, 1, 1), 56),
            ("layer2.0 3x3/2", new ConvSpec(64, 128, 3, 3, 2, 1, 1, 0, 0), 56),
            ("layer2 3x3", new ConvSpec(128, 128, 3, 3, 1, 1, 1, 1, 1), 28),
            ("layer2.0 downsample 1x1/2", new ConvSpec(64, 128, 1, 1, 2, 0, 0, 0, 0), 56),
            ("layer3.0 3x3/2", new ConvSpec(128, 256, 3, 3, 2, 1, 1, 0, 0), 28),
            ("layer3 3x3", new ConvSpec(256, 256, 3, 3, 1, 1, 1, 1, 1), 14),
            ("layer3.0 downsample 1x1/2", new ConvSpec(128, 256, 1, 1, 2, 0, 0, 0, 0), 28),
            ("1x1 stride 1 (GEMM direct)", new ConvSpec(256, 256, 1, 1, 1, 0, 0, 0, 0), 14),
        };
        bool tf32Was = b.AllowTf32;
        foreach (bool t in new[] { false, true })
        {
            b.AllowTf32 = t;
            foreach (var (name, s, h) in convs)
            {
                using var x = b.Upload(Rand((long)batch * s.InChannels * h * h, 3), batch, s.InChannels, h, h);
                using var conv = b.CreateConv(s, Rand(s.WeightLength, 4), Rand(s.OutChannels, 5));
                double ms = b.TimeMs(() => b.Conv2d(x, conv, null, true).Dispose(), reps);
                double tfs = 2.0 * s.Macs(h, h) * batch / (ms * 1e-3) / 1e12;
                Print(new($"conv {name}{(t ? " tf32" : "")}", $"N{batch} {s.InChannels}x{h}x{h}->{s.OutChannels}", ms, $"{tfs:F1} TFLOP/s", OfGemm(tfs, t)));
            }
        }
        b.AllowTf32 = tf32Was;

        // ---- memory-bound backbone ops --------------------------------------------------------------------
        using (var x = b.Upload(Rand((long)batch * 64 * 112 * 112, 6), batch, 64, 112, 112))
        {
            long bytes = x.Length * 4;
            double ms = b.TimeMs(() => b.Relu(x).Dispose(), reps);
            Print(new("relu", x.ShapeString, ms, $"{2.0 * bytes / ms / 1e6:F0} GB/s", OfBw(2.0 * bytes / ms / 1e6)));
            ms = b.TimeMs(() => b.Add(x, x).Dispose(), reps);
            Print(new("add", x.ShapeString, ms, $"{3.0 * bytes / ms / 1e6:F0} GB/s", OfBw(3.0 * bytes / ms / 1e6)));
            ms = b.TimeMs(() => b.MaxPool2d(x, new PoolSpec(3, 2, 1, 1, 0, 0)).Dispose(), reps);
            Print(new("maxpool 3x3/2", x.ShapeString, ms, $"{1.25 * bytes / ms / 1e6:F0} GB/s", OfBw(1.25 * bytes / ms / 1e6)));
            ms = b.TimeMs(() => b.AvgPool2d(x, new PoolSpec(3, 1, 1, 1, 1, 1)).Dispose(), reps);
            Print(new("avgpool 3x3/1", x.ShapeString, ms, $"{2.0 * bytes / ms / 1e6:F0} GB/s", OfBw(2.0 * bytes / ms / 1e6)));
            ms = b.TimeMs(() => b.GlobalAvgPool(x).Dispose(), reps);
            Print(new("global avgpool", x.ShapeString, ms, $"{1.0 * bytes / ms / 1e6:F0} GB/s", OfBw(1.0 * bytes / ms / 1e6)));
        }

        // ---- patch features --------------------------------------------------------------------------------
        using (var l2 = b.Upload(Rand((long)batch * 128 * 28 * 28, 7), batch, 128, 28, 28))
        using (var l3 = b.Upload(Rand((long)batch * 256 * 14 * 14, 8), batch, 256, 14, 14))
        {
            foreach (var spec in new[] { new AggregationSpec(), new AggregationSpec(AggregationMode.Anomalib) })
            {
                long outBytes = (long)batch * 784 * spec.OutputDim(128, 256) * 4;
                double ms = b.TimeMs(() => b.AggregatePatchFeatures(l2, l3, spec).Dispose(), reps);
                double gbs = (outBytes + (l2.Length + l3.Length) * 4.0) / ms / 1e6;
                Print(new($"aggregate {spec.Mode}", $"N{batch} 128x28x28+256x14x14", ms, $"{gbs:F0} GB/s", OfBw(gbs)));
            }
        }

        // ---- nearest-neighbour scoring 80k queries x 22k bank x 1024 -------------------------------------
        int nq = quick ? 8000 : 80000, nb = quick ? 2200 : 22000, dim = 1024;
        using (var q = b.Upload(Rand((long)nq * dim, 9), nq, dim))
        using (var db = b.Upload(Rand((long)nb * dim, 10), nb, dim))
        {
            var dist = new float[nq];
            var idx = new int[nq];
            double ms = b.TimeMs(() => b.NearestNeighbours(q, db, 1, dist, idx), Math.Min(reps, 5));
            double tfs = 2.0 * nq * nb * dim / (ms * 1e-3) / 1e12;
            Print(new("nearest neighbours k=1", $"{nq}x{nb}x{dim}", ms, $"{tfs:F1} TFLOP/s", OfGemm(tfs, false)));
            using var small = b.Upload(Rand(2000L * dim, 11), 2000, dim);
            ms = b.TimeMs(() => b.PairwiseSquaredDistances(small, db).Dispose(), reps);
            tfs = 2.0 * 2000 * nb * dim / (ms * 1e-3) / 1e12;
            Print(new("pairwise distances", $"2000x{nb}x{dim}", ms, $"{tfs:F1} TFLOP/s", OfGemm(tfs, false)));
        }

        // ---- coreset 220k x 128 at 10% (fp32 and fp16 storage) --------------------------------------------
        int cn = quick ? 22000 : 220000, cd = 128, count = cn / 10;
        using (var f = b.Upload(Rand((long)cn * cd, 12), cn, cd))
        {
            var starts = new int[10];
            var r = new Random(13);
            for (int i = 0; i < starts.Length; i++) starts[i] = r.Next(cn);
            using (var p = b.Upload(Rand(1024L * 128, 14), 1024, 128))
            using (var big = b.Upload(Rand((long)cn * 1024, 15), cn, 1024))
            {
                double pms = b.TimeMs(() => b.MatMul(big, p).Dispose(), reps);
                double ptf = 2.0 * cn * 1024 * 128 / (pms * 1e-3) / 1e12;
                Print(new("projection matmul", $"{cn}x1024x128", pms, $"{ptf:F1} TFLOP/s", OfGemm(ptf, false)));
            }
            // Both step kernels side by side: the generic warp-per-row one and the vectorised half-warp-per-row one.
            foreach (bool vec in new[] { false, true })
                foreach (var st in new[] { CoresetStorage.Float32, CoresetStorage.Float16 })
                {
                    b.CoresetStorage = st;
                    b.CoresetVectorized = vec;
                    double ms = b.TimeMs(() => b.GreedyCoreset(f, count, starts), 1, warmup: 0);
                    double gbs = (double)count * cn * cd * (st == CoresetStorage.Float16 ? 2 : 4) / ms / 1e6;
                    Print(new($"coreset {(st == CoresetStorage.Float16 ? "fp16" : "fp32")}{(vec ? " vec16" : "")}", $"{cn}x{cd}, {count} sel.", ms,
                        $"{gbs:F0} GB/s", $"{OfBw(gbs)}; {ms * 1000 / count:F1} us/iter"));
                }
            b.CoresetStorage = CoresetStorage.Float32;
            b.CoresetVectorized = true;
        }

        // ---- anomaly maps -----------------------------------------------------------------------------------
        using (var s = b.Upload(Rand((long)batch * 28 * 28, 16), batch, 28, 28))
        {
            double ms = b.TimeMs(() => b.AnomalyMaps(s, 224, 224, 4f).Dispose(), reps);
            double gbs = batch * 224.0 * 224 * 4 * 5 / ms / 1e6;
            Print(new("anomaly maps (upsample+blur)", $"N{batch} 28x28->224x224 s4", ms, $"{gbs:F0} GB/s", OfBw(gbs)));
        }

        // ---- the backbone to layer3 -----------------------------------------------------------------------
        string weights = WeightLocator.Find(o.Weights ?? Path.Combine("weights", "resnet18-cntk.safetensors"));
        try
        {
            var wf = WeightFile.Load(weights);
            foreach (bool t in new[] { false, true })
            {
                b.AllowTf32 = t;
                using var net = ResNet.Load(b, wf);
                using var x = b.Upload(Rand((long)batch * 3 * 224 * 224, 17), batch, 3, 224, 224);
                double ms = b.TimeMs(() => { foreach (var m in net.Forward(x, "layer2", "layer3")) m.Dispose(); }, Math.Min(reps, 5));
                Print(new($"backbone to layer3{(t ? " tf32" : "")}", $"N{batch} 3x224x224", ms, $"{batch / (ms * 1e-3):F0} img/s", ""));
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            Console.WriteLine($"backbone to layer3: skipped ({e.GetType().Name}: {e.Message.Split('\n')[0]})");
        }
        finally { b.AllowTf32 = tf32Was; }

        if (o.Json != null) WriteJson(o.Json, b.Description, rows);
        return 0;
    }

    /// <summary>CPU (and ILGPU) backends: wall-clock medians including a read-back of the output, at smaller sizes.</summary>
    static int BenchGeneric(IBackend b, BenchCommand o)
    {
        int reps = o.Repeats > 0 ? o.Repeats : 5;
        var rows = new List<Row>();
        // Median of reps runs after one warm-up run.
        double Median(Action op)
        {
            var t = new double[reps + 1];
            for (int i = 0; i <= reps; i++)
            {
                var sw = Stopwatch.StartNew();
                op();
                t[i] = sw.Elapsed.TotalMilliseconds;
            }
            var timed = t[1..];
            Array.Sort(timed);
            return timed[timed.Length / 2];
        }
        // An op with a tensor result: timed through a read-back of the output.
        double Time(Func<DeviceTensor> op) => Median(() =>
        {
            using var y = op();
            b.Download(y, new float[y.Length]);
        });
        void Print(string k, string shape, double ms, string rate)
        {
            rows.Add(new(k, shape, ms, rate, ""));
            Console.WriteLine($"{k,-34} {shape,-30} {ms,10:F3} ms  {rate}");
        }
        int batch = 8;
        var s = new ConvSpec(128, 128, 3, 3, 1, 1, 1, 1, 1);
        using (var x = b.Upload(Rand((long)batch * 128 * 28 * 28, 1), batch, 128, 28, 28))
        using (var conv = b.CreateConv(s, Rand(s.WeightLength, 2), Rand(128, 3)))
        {
            double ms = Time(() => b.Conv2d(x, conv, null, true));
            Print("conv layer2 3x3", $"N{batch} 128x28x28", ms, $"{2.0 * s.Macs(28, 28) * batch / ms / 1e9:F2} TFLOP/s");
        }
        using (var q = b.Upload(Rand(2000L * 1024, 4), 2000, 1024))
        using (var db = b.Upload(Rand(2000L * 1024, 5), 2000, 1024))
        {
            double ms = Time(() => b.PairwiseSquaredDistances(q, db));
            Print("pairwise distances", "2000x2000x1024", ms, $"{2.0 * 2000 * 2000 * 1024 / ms / 1e9:F2} TFLOP/s");
        }
        // The scoring stage's kernel: two images' patches against a 10%-coreset-sized bank, k = 1.
        using (var q = b.Upload(Rand(1568L * 1024, 9), 1568, 1024))
        using (var db = b.Upload(Rand(16384L * 1024, 10), 16384, 1024))
        {
            var dist = new float[1568];
            var idx = new int[1568];
            double ms = Median(() => b.NearestNeighbours(q, db, 1, dist, idx));
            Print("nearest neighbours k=1", "1568x16384x1024", ms, $"{2.0 * 1568 * 16384 * 1024 / ms / 1e9:F2} TFLOP/s");
        }
        using (var l2 = b.Upload(Rand((long)batch * 128 * 28 * 28, 6), batch, 128, 28, 28))
        using (var l3 = b.Upload(Rand((long)batch * 256 * 14 * 14, 7), batch, 256, 14, 14))
        {
            double ms = Time(() => b.AggregatePatchFeatures(l2, l3, new AggregationSpec()));
            Print("aggregate official", $"N{batch}", ms, "");
        }
        using (var f = b.Upload(Rand(20000L * 128, 8), 20000, 128))
        {
            var sw = Stopwatch.StartNew();
            b.GreedyCoreset(f, 2000, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
            Print("coreset", "20000x128, 2000 sel.", sw.Elapsed.TotalMilliseconds, "");
        }
        if (o.Json != null) WriteJson(o.Json, b.Description, rows);
        return 0;
    }

    static void WriteJson(string path, string description, List<Row> rows)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(new { backend = description, rows }, new JsonSerializerOptions { WriteIndented = true }));
        File.Move(tmp, path, overwrite: true);
    }
}
