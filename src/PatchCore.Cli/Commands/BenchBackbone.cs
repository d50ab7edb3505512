using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using PatchCore.Backbone;
using PatchCore.Backends;
using PatchCore.Weights;

namespace PatchCore.Cli.Commands;

/// <summary>
/// `pcnative bench backbone`: ResNet18 to layer3 at 224, images/s at each batch size (median of the timed
/// repeats after warm-up), achieved GFLOP/s (2 x conv MACs), a per-conv-shape breakdown, and the FMA peak
/// measured in the same run (one core, all threads) to say how close the convs get.
/// </summary>
public static class BenchBackbone
{
    public sealed record ShapeRow(string Shape, int Count, double Ms, double Gflop, double GflopPerS, double PercentOfPeak);
    public sealed record OpRow(string Op, int Count, double Ms);
    public sealed record BatchResult(int Batch, int Repeats, double MedianMs, double ImagesPerSecond, double GflopPerImage,
        double GflopPerS, double PercentOfPeak, List<ShapeRow> Shapes, List<OpRow> OtherOps);
    public sealed record Result(string Backend, string Weights, int Threads, string Vector, double PeakOneCoreGflopPerS,
        double PeakAllThreadsGflopPerS, List<BatchResult> Batches);

    public static int Run(BenchCommand o)
    {
        using var backend = BackendFactory.Create(new BackendFactory.Options(o.Backend, o.Threads, o.Tf32));
        string path = WeightLocator.Find(o.Weights ?? Path.Combine("weights", "resnet18-cntk.safetensors"));
        WeightFile weights;
        string weightsNote;
        if (File.Exists(path)) { weights = WeightFile.Load(path); weightsNote = path; }
        else
        {
            if (o.Weights != null) throw new UserError($"bench: weight file '{path}' not found");
            weights = RandomResNetWeights.Create(RandomResNetWeights.ResNet18Metadata());
            weightsNote = $"random ResNet18 weights ({path} not found; same shapes, torchvision geometry)";
        }
        int[] batches = (o.Batch ?? "1,16").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.TryParse(s, out int b) && b > 0 ? b : throw new UserError($"bench: bad batch size '{s}'")).ToArray();
        int threads = o.Threads > 0 ? o.Threads : Environment.ProcessorCount;

        Console.WriteLine($"backend: {backend.Description}");
        Console.WriteLine($"weights: {weightsNote}");
        double peak1 = FmaPeak.Measure(1), peakN = FmaPeak.Measure(threads);
        Console.WriteLine($"FMA peak ({FmaPeak.VectorName}): 1 core {peak1:F1} GFLOP/s, {threads} threads {peakN:F1} GFLOP/s");

        var timing = new TimingBackend(backend);
        using var net = ResNet.Load(timing, weights);
        var rng = new Random(7);
        var results = new List<BatchResult>();
        foreach (int b in batches)
        {
            // Default: at least 9 passes and 144 images, so a batch-1 median rests on more than a blink of a
            // noisy VM (9 passes of 12 ms moved by 10% between runs; 144 passes agree within 3%).
            int repeats = o.Repeats > 0 ? o.Repeats : Math.Max(9, (144 + b - 1) / b);
            var data = new float[b * 3 * 224 * 224];
            for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 4 - 2);
            using var x = backend.Upload(data, b, 3, 224, 224);
            // Warm-up: at least 3 passes and 1 s, so tiered JIT and the array pools have settled.
            var warm = Stopwatch.StartNew();
            for (int r = 0; r < 3 || warm.Elapsed.TotalSeconds < 1; r++)
                foreach (var t in net.Forward(x, "layer3")) t.Dispose();
            var times = new double[repeats];
            for (int r = 0; r < repeats; r++)
            {
                timing.Calls.Clear();
                var sw = Stopwatch.StartNew();
                foreach (var t in net.Forward(x, "layer3")) t.Dispose();
                times[r] = sw.Elapsed.TotalSeconds;
            }
            // Per-conv breakdown: median over extra passes of each conv call's time.
            var perCall = new List<double>[0];
            var calls = new List<TimingBackend.ConvCall>();
            var perOther = new List<double>[0];
            var others = new List<TimingBackend.OpCall>();
            for (int r = 0; r < repeats; r++)
            {
                timing.Calls.Clear();
                timing.OtherCalls.Clear();
                foreach (var t in net.Forward(x, "layer3")) t.Dispose();
                if (r == 0)
                {
                    calls.AddRange(timing.Calls); perCall = calls.Select(_ => new List<double>()).ToArray();
                    others.AddRange(timing.OtherCalls); perOther = others.Select(_ => new List<double>()).ToArray();
                }
                for (int i = 0; i < calls.Count; i++) perCall[i].Add(timing.Calls[i].Seconds);
                for (int i = 0; i < others.Count; i++) perOther[i].Add(timing.OtherCalls[i].Seconds);
            }
            double med = Median(times);
            double flops = calls.Sum(c => 2.0 * c.Spec.Macs(c.H, c.W) * c.N);
            var shapes = calls.Select((c, i) => (c, t: Median(perCall[i].ToArray())))
                .GroupBy(e => Key(e.c))
                .Select(g =>
                {
                    double ms = g.Sum(e => e.t) * 1e3, gf = g.Sum(e => 2.0 * e.c.Spec.Macs(e.c.H, e.c.W) * e.c.N) / 1e9;
                    return new ShapeRow(g.Key, g.Count(), ms, gf, gf / (ms / 1e3), 100 * gf / (ms / 1e3) / peakN);
                }).ToList();
            var otherOps = others.Select((c, i) => (c, t: Median(perOther[i].ToArray())))
                .GroupBy(e => e.c.Op).Select(g => new OpRow(g.Key, g.Count(), g.Sum(e => e.t) * 1e3)).ToList();
            results.Add(new BatchResult(b, repeats, med * 1e3, b / med, flops / b / 1e9, flops / med / 1e9, 100 * flops / med / 1e9 / peakN, shapes, otherOps));
        }

        foreach (var r in results)
        {
            Console.WriteLine();
            Console.WriteLine($"batch {r.Batch}: {r.ImagesPerSecond:F1} images/s (median {r.MedianMs:F1} ms of {r.Repeats}), " +
                $"{r.GflopPerImage:F2} GFLOP/image, {r.GflopPerS:F1} GFLOP/s = {r.PercentOfPeak:F0}% of {threads}-thread FMA peak");
            double convMs = r.Shapes.Sum(x => x.Ms), otherMs = r.OtherOps.Sum(x => x.Ms);
            Console.WriteLine($"  per pass, from the medians of each call: convs {convMs:F2} ms, other ops {otherMs:F2} ms, " +
                $"the rest {r.MedianMs - convMs - otherMs:F2} ms (between calls: allocation, scheduling)");
            Console.WriteLine($"  {"conv shape (Cin>Cout kxk /s pads @ HxW)",-44} {"n",3} {"ms",8} {"GFLOP",7} {"GFLOP/s",8} {"%peak",6}");
            foreach (var s in r.Shapes)
                Console.WriteLine($"  {s.Shape,-44} {s.Count,3} {s.Ms,8:F2} {s.Gflop,7:F3} {s.GflopPerS,8:F1} {s.PercentOfPeak,6:F0}");
            foreach (var op in r.OtherOps)
                Console.WriteLine($"  {op.Op,-44} {op.Count,3} {op.Ms,8:F2}");
        }
        if (o.Json != null)
        {
            var json = JsonSerializer.Serialize(new Result(backend.Name, weightsNote, threads, FmaPeak.VectorName, peak1, peakN, results),
                new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            var tmp = o.Json + ".tmp";
            File.WriteAllText(tmp, json);
            File.Move(tmp, o.Json, overwrite: true);
        }
        return 0;
    }

    static string Key(TimingBackend.ConvCall c)
    {
        var s = c.Spec;
        return string.Create(CultureInfo.InvariantCulture,
            $"{s.InChannels}>{s.OutChannels} {s.KernelH}x{s.KernelW} /{s.Stride} p{s.PadTop}{s.PadLeft}{s.PadBottom}{s.PadRight} @ {c.H}x{c.W}");
    }

    static double Median(double[] v)
    {
        var s = (double[])v.Clone();
        Array.Sort(s);
        return s[s.Length / 2];
    }
}
