using System.Globalization;
using PatchCore.Backends;
using PatchCore.FineTuning;
using PatchCore.Weights;

namespace PatchCore.Cli.Commands;

/// <summary>
/// `pcnative bench train`: the time of one fine-tuning step (issue 13's speed goal), measured on the code a
/// `pcnative finetune` run executes (<see cref="FineTuner.RunSteps"/>: the same batch making, forward, loss,
/// backward and optimiser step), on random images (default) or a category's train/good images. Prints every
/// step's time, the median of the timed steps, rows/s, the peak resident memory (VmHWM) and, with --ops, where a
/// step's time goes op by op. The last line (RESULT ...) is for tools/bench_train_side_by_side.sh, which prints
/// it beside tools/bench_torch_train.py's.
/// </summary>
public static class BenchTrain
{
    public static int Run(BenchCommand o)
    {
        var inv = CultureInfo.InvariantCulture;
        int batch = 8;
        if (o.Batch != null && (!int.TryParse(o.Batch, NumberStyles.None, inv, out batch) || batch < 1))
            throw new UserError($"bench train: --batch {o.Batch}: one positive number (source images per step)");
        if (o.Steps < 1) throw new UserError($"bench train: --steps {o.Steps}: must be >= 1");
        if (o.Warmup < 0) throw new UserError($"bench train: --warmup {o.Warmup}: must be >= 0");
        var config = new FineTuneConfig
        {
            Task = o.Task, Batch = batch, TrainStages = o.TrainStages, BatchNorm = o.BatchNorm, Optimizer = o.Optimizer,
            Resize = o.Resize ?? Math.Max(o.Crop, 256 * o.Crop / 224), Crop = o.Crop, Epochs = 1, WarmupEpochs = 0, Seed = 0,
        };
        try { config.Validate(); }
        catch (ArgumentException e) { throw new UserError("bench train: " + e.Message); }

        string path = WeightLocator.Find(o.Weights ?? Path.Combine("weights", "resnet18-cntk.safetensors"));
        if (!File.Exists(path)) throw new UserError($"bench train: weight file '{path}' not found (./build.sh makes the default)");
        var weights = WeightFile.Load(path);
        using var backend = BackendFactory.Create(new BackendFactory.Options(o.Backend == "auto" ? "cpu" : o.Backend, o.Threads));
        if (backend is not ITrainingBackend trainer) throw new UserError($"bench train: --backend {o.Backend}: this backend cannot train (cpu, cuda or reference can)");
        using IFineTuneTask task = config.Task == "contrastive" ? new ContrastiveTask(config.Contrastive()) : new RotationTask();
        int perBatch = task.ImagesPerBatch(batch), total = o.Warmup + o.Steps;

        NominalImage[] images;
        string source;
        if (o.Category != null)
        {
            var data = DatasetArgs.Resolve(o.Category, o.DataRoot, out _);
            var paths = data.TrainImages.Take(perBatch * total).ToList();
            images = FinetuneCommand.LoadImages(paths, config, weights);
            source = $"{images.Length} train/good images of {data.Category}";
        }
        else
        {
            // Random planes: a step's time does not depend on the values (no data-dependent branches but ReLU's
            // and max-pool's, which cost the same either way).
            var rng = new Random(7);
            images = new NominalImage[perBatch];
            for (int i = 0; i < perBatch; i++)
            {
                var planes = new float[3 * config.Crop * config.Crop];
                for (int k = 0; k < planes.Length; k++) planes[k] = (float)(rng.NextDouble() * 4 - 2);
                images[i] = new NominalImage(planes, config.Crop, config.Crop, $"random-{i}");
            }
            source = $"{perBatch} random images";
        }

        var timing = o.Ops ? new TrainingTimingBackend(trainer) : null;
        ITrainingBackend used = timing ?? trainer;
        Console.WriteLine($"backend: {backend.Description}");
        Console.WriteLine($"weights: {path}");
        Console.WriteLine($"step: {config.Task}, --batch {batch} ({source}), {config.Crop}x{config.Crop} (resize {config.Resize}), " +
            $"stages {config.TrainStages} trained, BN {config.BatchNorm}, {config.Optimizer}; {o.Warmup} warm-up + {o.Steps} timed steps");

        var times = new List<double>();
        var ft = new FineTuner(used, weights, task, config);
        try
        {
            ft.RunSteps(images, total, (step, elapsed) =>
            {
                bool timed = step >= o.Warmup;
                Console.WriteLine(string.Create(inv, $"  step {step + 1,3}: {elapsed.TotalMilliseconds,9:F1} ms{(timed ? "" : " (warm-up)")}"));
                if (timed) times.Add(elapsed.TotalMilliseconds);
                if (step == o.Warmup - 1) timing?.Clear(); // the profile covers the timed steps only
            });
        }
        catch (ArgumentException e) { throw new UserError("bench train: " + e.Message); }
        int rows = RowsPerStep(task, images, perBatch, config);
        var sorted = times.Order().ToArray();
        double median = sorted[sorted.Length / 2];
        var (hwm, rss) = Memory();
        Console.WriteLine(string.Create(inv,
            $"median {median:F1} ms per step of {o.Steps} (min {sorted[0]:F1}, max {sorted[^1]:F1}); {rows} rows/step = {rows / (median / 1e3):F2} rows/s; " +
            $"peak RSS {hwm / 1024.0:F0} MiB (VmHWM; now {rss / 1024.0:F0} MiB)"));
        if (timing != null)
        {
            double sum = timing.Totals.Values.Sum(t => t.Seconds) * 1e3 / o.Steps;
            Console.WriteLine(string.Create(inv, $"ops per step (mean of the timed steps; ops {sum:F1} ms, the rest {median - sum:F1} ms: batch making, uploads, host work):"));
            Console.WriteLine($"  {"op",-48} {"calls",5} {"ms",9} {"%",5}");
            foreach (var (name, t) in timing.Totals.OrderByDescending(e => e.Value.Seconds))
                Console.WriteLine(string.Create(inv, $"  {name,-48} {t.Count / o.Steps,5} {t.Seconds * 1e3 / o.Steps,9:F1} {100 * t.Seconds * 1e3 / o.Steps / median,5:F1}"));
        }
        string isa = backend.Description.Contains("AVX-512") ? "AVX-512" : backend.Description.Contains("AVX2") ? "AVX2" : "other";
        Console.WriteLine(string.Create(inv,
            $"RESULT impl=pcnative task={config.Task} isa={isa} batch={batch} rows={rows} size={config.Crop} threads={o.Threads} median_ms={median:F1} peak_rss_mib={hwm / 1024.0:F0}"));
        return 0;
    }

    /// <summary>Rows one step feeds the net (rotation: 4 per image; contrastive: 2 views each + CutMix negatives),
    /// from a batch the task makes (the same seeded call a step makes; not timed).</summary>
    static int RowsPerStep(IFineTuneTask task, NominalImage[] images, int perBatch, FineTuneConfig config) =>
        task.MakeBatch(images.Take(perBatch).ToArray(), new Random(config.Seed), training: true).Rows;

    /// <summary>VmHWM and VmRSS in KiB from /proc/self/status (0 where there is none: not Linux).</summary>
    static (long Hwm, long Rss) Memory()
    {
        long hwm = 0, rss = 0;
        if (!File.Exists("/proc/self/status")) return (0, 0);
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) hwm = Kib(line);
            else if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kib(line);
        }
        return (hwm, rss);
        static long Kib(string line) => long.Parse(line.Split(':', 2)[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }
}
