using CommandLine;
using PatchCore.Backends;
using PatchCore.Data;
using PatchCore.FineTuning;
using PatchCore.IO;
using PatchCore.Weights;

namespace PatchCore.Cli.Commands;

/// <summary>
/// `pcnative finetune --category C --task rotation --epochs N --out W.safetensors`: self-supervised fine-tuning of
/// the backbone on a category's train/good images (issue 13). Every hyperparameter is a flag and a --config key
/// (<see cref="FineTuneConfig"/>; flags over the file over the defaults). Writes the fine-tuned weights (usable by
/// `run --weights` and `fit --weights` unchanged), a checkpoint per epoch (W.safetensors.ckpt) and resumes from
/// it with --resume. --dump-step FILE instead writes the facts of the first training step (batch, loss, gradients;
/// <see cref="FineTuneStep"/>) for the cross-check against PyTorch autograd (tools/torch_grad_check.py): an option
/// of this verb rather than a verb of its own so that every fine-tuning flag means exactly what it means in a run.
/// </summary>
[Verb("finetune", HelpText = "Fine-tune the backbone on a category's nominal images (rotation prediction or SimCLR contrastive) and write new weights.")]
public sealed class FinetuneCommand : ICommand
{
    [Option("category", HelpText = "Category under the data root (default: the synthetic demo).")] public string? Category { get; set; }
    [Option("data-root", HelpText = "Dataset root (default $PCNATIVE_DATA or data/mvtec).")] public string? DataRoot { get; set; }
    [Option("out", HelpText = "Output weight file (safetensors); required unless --dump-step.")] public string? Out { get; set; }
    [Option("dump-step", HelpText = "Diagnostic: run only the first training step (forward + backward, no optimiser step) and write its batch, loss and gradients to this safetensors file (tools/torch_grad_check.py reads it).")] public string? DumpStep { get; set; }
    [Option("weights", HelpText = "Base weights (default weights/resnet18-cntk.safetensors).")] public string? Weights { get; set; }
    [Option("backend", Default = "cpu", HelpText = "cpu | cuda | reference (a backend that can train; cuda: the native CUDA backend, kernels/*.cu; not gpu, the ILGPU one).")] public string Backend { get; set; } = "cpu";
    [Option("threads", Default = 0, HelpText = "CPU threads (0 = all cores).")] public int Threads { get; set; }
    [Option("config", HelpText = "JSON file of fine-tuning settings (keys = flag names).")] public string? Config { get; set; }
    [Option("resume", HelpText = "Continue from the checkpoint OUT.ckpt if it exists.")] public bool Resume { get; set; }
    [Option("checkpoint", HelpText = "Checkpoint file (default OUT.ckpt).")] public string? Checkpoint { get; set; }

    [Option("task", HelpText = "rotation (default) | contrastive (SimCLR NT-Xent with CutMix negatives)")] public string? Task { get; set; }
    [Option("epochs", HelpText = "Epochs (default 5).")] public int? Epochs { get; set; }
    [Option("train-stages", HelpText = "Trained stages: layer3 (default) or layer2,layer3.")] public string? TrainStages { get; set; }
    [Option("learning-rate", HelpText = "Peak learning rate (default 0.01).")] public double? LearningRate { get; set; }
    [Option("min-learning-rate", HelpText = "Learning rate at the end of the cosine (default 0).")] public double? MinLearningRate { get; set; }
    [Option("optimizer", HelpText = "sgd (default) | adamw")] public string? Optimizer { get; set; }
    [Option("momentum", HelpText = "SGD momentum (default 0.9).")] public double? Momentum { get; set; }
    [Option("weight-decay", HelpText = "Weight decay (default 1e-4).")] public double? WeightDecay { get; set; }
    [Option("warmup-epochs", HelpText = "Linear warm-up in epochs (default 0.5).")] public double? WarmupEpochs { get; set; }
    [Option("batchnorm", HelpText = "frozen (default) | train")] public string? BatchNorm { get; set; }
    [Option("feature-penalty", HelpText = "λ of the L2 distance to the pretrained layer2/layer3 features (default 0).")] public double? FeaturePenalty { get; set; }
    [Option("l2sp", HelpText = "λ of L2-SP on the trained weights (default 0).")] public double? L2sp { get; set; }
    [Option("batch", HelpText = "Source images per step (default 8; rotation makes 4 rows of each).")] public int? Batch { get; set; }
    [Option("holdout", HelpText = "Share of train/good held out for accuracy (default 0.1).")] public double? Holdout { get; set; }
    [Option("seed", HelpText = "Seed (default 0).")] public int? Seed { get; set; }
    [Option("resize", HelpText = "Shorter side before the crop (default 256).")] public int? Resize { get; set; }
    [Option("crop", HelpText = "Centre crop (default 224).")] public int? Crop { get; set; }
    [Option("max-images", HelpText = "Use at most this many train/good images (default all).")] public int? MaxImages { get; set; }
    [Option("temperature", HelpText = "contrastive: NT-Xent temperature τ (default 0.5).")] public double? Temperature { get; set; }
    [Option("head-hidden", HelpText = "contrastive: projection head hidden width (default 512).")] public int? ProjectionHidden { get; set; }
    [Option("head-dim", HelpText = "contrastive: projection head output width (default 128).")] public int? ProjectionDim { get; set; }
    [Option("head-norm", HelpText = "contrastive: batch (default: linear-BatchNorm1d-ReLU-linear, as SimCLR) | none (linear-ReLU-linear).")] public string? ProjectionNorm { get; set; }
    [Option("cutmix-negatives", HelpText = "contrastive: CutMix images per batch as extra negatives (default 4; 0 = plain SimCLR).")] public int? CutMixNegatives { get; set; }
    [Option("cutmix-area-min", HelpText = "contrastive: smallest pasted area share (default 0.02).")] public double? CutMixAreaMin { get; set; }
    [Option("cutmix-area-max", HelpText = "contrastive: largest pasted area share (default 0.15).")] public double? CutMixAreaMax { get; set; }
    [Option("crop-scale-min", HelpText = "contrastive: random resized crop, smallest area share (default 0.08).")] public double? CropScaleMin { get; set; }
    [Option("crop-scale-max", HelpText = "contrastive: random resized crop, largest area share (default 1).")] public double? CropScaleMax { get; set; }
    [Option("crop-ratio-min", HelpText = "contrastive: random resized crop, smallest aspect w/h (default 0.75).")] public double? CropRatioMin { get; set; }
    [Option("crop-ratio-max", HelpText = "contrastive: random resized crop, largest aspect w/h (default 1.333).")] public double? CropRatioMax { get; set; }
    [Option("flip", HelpText = "contrastive: horizontal flip probability (default 0.5).")] public double? FlipProbability { get; set; }
    [Option("brightness", HelpText = "contrastive: colour jitter brightness strength (default 0.4).")] public double? Brightness { get; set; }
    [Option("contrast", HelpText = "contrastive: colour jitter contrast strength (default 0.4).")] public double? Contrast { get; set; }
    [Option("saturation", HelpText = "contrastive: colour jitter saturation strength (default 0.4).")] public double? Saturation { get; set; }
    [Option("jitter-probability", HelpText = "contrastive: probability a view is colour-jittered (default 0.8).")] public double? JitterProbability { get; set; }

    public FineTuneConfig BuildConfig()
    {
        var c = new FineTuneConfig();
        if (Config != null)
        {
            if (!File.Exists(Config)) throw new UserError($"--config {Config}: file not found");
            c = FineTuneConfig.FromJson(File.ReadAllText(Config), Config);
        }
        c = c with
        {
            Task = Task ?? c.Task, Epochs = Epochs ?? c.Epochs, TrainStages = TrainStages ?? c.TrainStages,
            LearningRate = LearningRate ?? c.LearningRate, MinLearningRate = MinLearningRate ?? c.MinLearningRate,
            Optimizer = Optimizer ?? c.Optimizer, Momentum = Momentum ?? c.Momentum, WeightDecay = WeightDecay ?? c.WeightDecay,
            WarmupEpochs = WarmupEpochs ?? c.WarmupEpochs, BatchNorm = BatchNorm ?? c.BatchNorm,
            FeaturePenalty = FeaturePenalty ?? c.FeaturePenalty, L2sp = L2sp ?? c.L2sp, Batch = Batch ?? c.Batch,
            Holdout = Holdout ?? c.Holdout, Seed = Seed ?? c.Seed, Resize = Resize ?? c.Resize, Crop = Crop ?? c.Crop,
            MaxImages = MaxImages ?? c.MaxImages,
            Temperature = Temperature ?? c.Temperature, ProjectionHidden = ProjectionHidden ?? c.ProjectionHidden,
            ProjectionDim = ProjectionDim ?? c.ProjectionDim,
            ProjectionNorm = ProjectionNorm ?? c.ProjectionNorm, CutMixNegatives = CutMixNegatives ?? c.CutMixNegatives,
            CutMixAreaMin = CutMixAreaMin ?? c.CutMixAreaMin, CutMixAreaMax = CutMixAreaMax ?? c.CutMixAreaMax,
            CropScaleMin = CropScaleMin ?? c.CropScaleMin, CropScaleMax = CropScaleMax ?? c.CropScaleMax,
            CropRatioMin = CropRatioMin ?? c.CropRatioMin, CropRatioMax = CropRatioMax ?? c.CropRatioMax,
            FlipProbability = FlipProbability ?? c.FlipProbability, Brightness = Brightness ?? c.Brightness,
            Contrast = Contrast ?? c.Contrast, Saturation = Saturation ?? c.Saturation,
            JitterProbability = JitterProbability ?? c.JitterProbability,
        };
        try { c.Validate(); }
        catch (ArgumentException e) { throw new UserError(e.Message); }
        return c;
    }

    /// <summary>The images as a run feeds them: resized, centre-cropped, in the weights' normalisation (also
    /// `bench train --category`).</summary>
    internal static NominalImage[] LoadImages(IReadOnlyList<string> paths, FineTuneConfig config, WeightFile weights)
    {
        var spec = new ResizeSpec(config.Resize, config.Crop);
        var norm = weights.Metadata.ToNormalization();
        var images = new NominalImage[paths.Count];
        Parallel.For(0, paths.Count, i =>
            images[i] = new NominalImage(Preprocessing.ToInput(ImageFile.Decode(paths[i]), spec, norm), config.Crop, config.Crop, paths[i]));
        return images;
    }

    public int Execute()
    {
        if (Out == null && DumpStep == null) throw new UserError("--out: required (the output weight file), or --dump-step FILE");
        if (Out != null && DumpStep != null) throw new UserError("--dump-step: writes no weights, so it takes no --out");
        if (DumpStep != null && Resume) throw new UserError("--dump-step: dumps the first step of a fresh run, so it takes no --resume");
        var config = BuildConfig();
        string weightsPath = WeightLocator.Find(Weights ?? Path.Combine("weights", "resnet18-cntk.safetensors"));
        if (!File.Exists(weightsPath)) throw new UserError($"{weightsPath}: weight file not found (./build.sh makes the default; or pcnative convert)");
        var weights = WeightFile.Load(weightsPath);
        var data = DatasetArgs.Resolve(Category, DataRoot, out _);
        var paths = data.TrainImages.ToList();
        if (config.MaxImages > 0 && paths.Count > config.MaxImages) paths = paths.Take(config.MaxImages).ToList();
        var images = LoadImages(paths, config, weights);

        using var backend = BackendFactory.Create(new BackendFactory.Options(Backend, Threads));
        if (backend is not ITrainingBackend trainer) throw new UserError($"--backend {Backend}: this backend cannot train (cpu, cuda or reference can)");
        using IFineTuneTask task = config.Task switch
        {
            "contrastive" => new ContrastiveTask(config.Contrastive()),
            _ => new RotationTask(),
        };
        if (DumpStep != null)
        {
            // The same FineTuner, config and images as a run, so the dumped step is the run's first step.
            FineTuneStep step;
            try { step = new FineTuner(trainer, weights, task, config).FirstStep(images); }
            catch (ArgumentException e) { throw new UserError(e.Message); }
            step.Save(DumpStep);
            Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"wrote {DumpStep}: {task.Name}, {step.Batch.Rows} rows of {step.Batch.Width}x{step.Batch.Height}, loss {step.Result.Loss:R}, {step.Gradients.Count} gradients"));
            return 0;
        }
        string checkpoint = Checkpoint ?? Out + ".ckpt";
        Console.Error.WriteLine($"finetune: {task.Name} on {data.Category} ({images.Length} train/good images), stages {config.TrainStages}, {config.Epochs} epochs, backend {backend.Name}");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        FineTuneResult result;
        try { result = new FineTuner(trainer, weights, task, config, line => Console.WriteLine(line)).Run(images, checkpoint, Resume); }
        catch (ArgumentException e) { throw new UserError(e.Message); }
        FineTuner.Save(result, Out!);
        Console.WriteLine($"wrote {Out} ({sw.Elapsed.TotalSeconds:F0} s); checkpoint {checkpoint}");
        return 0;
    }
}
