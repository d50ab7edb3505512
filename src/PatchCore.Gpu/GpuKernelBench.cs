using System.Diagnostics;
using PatchCore.Backends;

namespace PatchCore.Gpu;

/// <summary>One timed kernel: median wall time of a launch (synchronised), and its throughput.</summary>
public sealed record KernelBenchRow(string Name, string Shape, double MedianMs, double Throughput, string Unit)
{
    public override string ToString() => $"{Name,-26} {Shape,-36} {MedianMs,10:F3} ms {Throughput,9:F2} {Unit}";
}

/// <summary>
/// Times each ILGPU kernel at realistic sizes for `pcnative bench kernels`: warm-up launches first (the
/// first launch of a kernel may still JIT-link it), then the median of repeated synchronised launches.
/// GEMM-shaped ops report TFLOP/s (2 FLOPs per multiply-add), the rest GB/s of compulsory traffic
/// (each input read once, each output written once). Outputs are preallocated where the op allows, so the
/// figure is the kernel's, not the allocator's.
/// </summary>
public static class GpuKernelBench
{
    public enum Scale { Tiny, Realistic }

    public static IReadOnlyList<KernelBenchRow> Run(GpuBackend gpu, Scale scale = Scale.Realistic, int repeats = 20, int warmup = 3)
    {
        bool big = scale == Scale.Realistic;
        var rng = new Random(1);
        var rows = new List<KernelBenchRow>();
        int batch = big ? 256 : 1;

        // ResNet18 convs at 224, batch 256: the stem, a layer1 3x3, the layer2/layer3 3x3s, a downsample.
        // (Tiny keeps K small: ILGPU's CPU accelerator pays for every barrier of every 16-wide k slice.)
        foreach (var (name, spec, hw) in new (string, ConvSpec, int)[]
                 {
                     ("conv stem 7x7 s2", new ConvSpec(3, big ? 64 : 8, 7, 7, 2, 3, 3, 3, 3), big ? 224 : 12),
                     ("conv layer1 3x3", new ConvSpec(big ? 64 : 8, big ? 64 : 8, 3, 3, 1, 1, 1, 1, 1), big ? 56 : 6),
                     ("conv layer2 3x3", new ConvSpec(big ? 128 : 8, big ? 128 : 8, 3, 3, 1, 1, 1, 1, 1), big ? 28 : 5),
                     ("conv layer3 3x3", new ConvSpec(big ? 256 : 8, big ? 256 : 16, 3, 3, 1, 1, 1, 1, 1), big ? 14 : 4),
                     ("conv layer3 down 1x1 s2", new ConvSpec(big ? 128 : 8, big ? 256 : 16, 1, 1, 2, 0, 0, 0, 0), big ? 28 : 5),
                 })
        {
            using var conv = gpu.CreateConv(spec, Random(rng, spec.WeightLength), Random(rng, spec.OutChannels));
            using var x = Up(gpu, rng, batch, spec.InChannels, hw, hw);
            int oh = spec.OutH(hw), ow = spec.OutW(hw);
            using var y = gpu.AllocateTensor(batch, spec.OutChannels, oh, ow);
            double ms = Time(gpu, () => gpu.Conv2dInto(x, conv, null, true, y), repeats, warmup);
            double flops = 2.0 * batch * spec.Macs(hw, hw);
            rows.Add(new(name, $"N{batch} {spec.InChannels}->{spec.OutChannels} {hw}x{hw}", ms, flops / (ms * 1e-3) / 1e12, "TFLOP/s"));
        }

        {
            int c = big ? 64 : 3, h = big ? 112 : 9;
            using var x = Up(gpu, rng, batch, c, h, h);
            var pool = new PoolSpec(3, 2, 1, 1, 1, 1);
            DeviceTensor? last = null;
            double ms = Time(gpu, () => { last?.Dispose(); last = gpu.MaxPool2d(x, pool); }, repeats, warmup);
            long bytes = 4 * (x.Length + last!.Length);
            rows.Add(new("maxpool 3x3 s2", $"N{batch} {c}x{h}x{h}", ms, bytes / (ms * 1e-3) / 1e9, "GB/s"));
            last.Dispose();
        }
        {
            int c = big ? 128 : 3, h = big ? 28 : 6;
            using var a = Up(gpu, rng, batch, c, h, h);
            using var b = Up(gpu, rng, batch, c, h, h);
            DeviceTensor? last = null;
            double ms = Time(gpu, () => { last?.Dispose(); last = gpu.Add(a, b); }, repeats, warmup);
            rows.Add(new("add", $"N{batch} {c}x{h}x{h}", ms, 12.0 * a.Length / (ms * 1e-3) / 1e9, "GB/s"));
            last?.Dispose();
        }
        {
            int n = big ? 64 : 1;
            using var l2 = Up(gpu, rng, n, big ? 128 : 5, big ? 28 : 4, big ? 28 : 4);
            using var l3 = Up(gpu, rng, n, big ? 256 : 7, big ? 14 : 2, big ? 14 : 2);
            var spec = new AggregationSpec(AggregationMode.Official, 3, big ? 1024 : 16, big ? 1024 : 12);
            DeviceTensor? last = null;
            double ms = Time(gpu, () => { last?.Dispose(); last = gpu.AggregatePatchFeatures(l2, l3, spec); }, repeats, warmup);
            long bytes = 4 * (l2.Length + l3.Length + last!.Length);
            rows.Add(new("aggregate official", $"N{n} -> {last.ShapeString}", ms, bytes / (ms * 1e-3) / 1e9, "GB/s"));
            last.Dispose();
        }
        {
            int m = big ? 20000 : 70, k = big ? 1024 : 20, n = big ? 128 : 67;
            using var a = Up(gpu, rng, m, k);
            using var b = Up(gpu, rng, k, n);
            using var c = gpu.AllocateTensor(m, n);
            double ms = Time(gpu, () => gpu.MatMulInto(a, b, c), repeats, warmup);
            rows.Add(new("matmul (projection)", $"[{m},{k}]x[{k},{n}]", ms, 2.0 * m * k * n / (ms * 1e-3) / 1e12, "TFLOP/s"));
        }
        {
            int m = big ? 4096 : 33, n = big ? 4096 : 70, d = big ? 1024 : 20;
            using var q = Up(gpu, rng, m, d);
            using var x = Up(gpu, rng, n, d);
            DeviceTensor? last = null;
            double ms = Time(gpu, () => { last?.Dispose(); last = gpu.PairwiseSquaredDistances(q, x); }, repeats, warmup);
            rows.Add(new("pairwise sq distances", $"{m}x{n} d{d}", ms, 2.0 * m * n * d / (ms * 1e-3) / 1e12, "TFLOP/s"));
            last?.Dispose();
        }
        {
            // Scoring shape: 100 test images x 784 patches against a 10% bank of ~20k patches.
            int m = big ? 78400 : 40, n = big ? 20000 : 90, d = big ? 1024 : 16;
            using var q = Up(gpu, rng, m, d);
            using var x = Up(gpu, rng, n, d);
            var dist = new float[m]; var idx = new int[m];
            double ms = Time(gpu, () => gpu.NearestNeighbours(q, x, 1, dist, idx), Math.Max(1, repeats / 4), Math.Min(warmup, 1));
            rows.Add(new("nearest neighbours k=1", $"q{m} db{n} d{d}", ms, 2.0 * m * n * d / (ms * 1e-3) / 1e12, "TFLOP/s"));
        }
        {
            int n = big ? 200000 : 300, d = big ? 128 : 8, count = big ? 2000 : 2;
            using var f = Up(gpu, rng, n, d);
            int[] starts = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
            double ms = Time(gpu, () => gpu.GreedyCoreset(f, count, starts), Math.Max(1, repeats / 10), Math.Min(warmup, 1));
            // Per iteration one pass over the projected features.
            rows.Add(new("greedy coreset", $"N{n} d{d} select {count}", ms, 4.0 * n * d * count / (ms * 1e-3) / 1e9, "GB/s"));
        }
        {
            int n = big ? 100 : 2;
            using var s = Up(gpu, rng, n, big ? 28 : 5, big ? 28 : 5);
            int o = big ? 224 : 13;
            DeviceTensor? last = null;
            double ms = Time(gpu, () => { last?.Dispose(); last = gpu.AnomalyMaps(s, o, o, 4f); }, repeats, warmup);
            rows.Add(new("anomaly maps sigma 4", $"N{n} -> {o}x{o}", ms, 4.0 * 3 * last!.Length / (ms * 1e-3) / 1e9, "GB/s"));
            last.Dispose();
        }
        return rows;
    }

    static double Time(GpuBackend gpu, Action launch, int repeats, int warmup)
    {
        for (int i = 0; i < warmup; i++) launch();
        gpu.Synchronize();
        var times = new double[Math.Max(1, repeats)];
        for (int i = 0; i < times.Length; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            launch();
            gpu.Synchronize();
            times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        Array.Sort(times);
        return times[times.Length / 2];
    }

    static GpuTensor Up(GpuBackend gpu, Random rng, params int[] shape) =>
        (GpuTensor)gpu.Upload(Random(rng, Tensors.Tensor.ShapeLength(shape)), shape);

    static float[] Random(Random rng, long n)
    {
        var v = new float[n];
        for (long i = 0; i < n; i++) v[i] = (float)(rng.NextDouble() * 2 - 1);
        return v;
    }
}
