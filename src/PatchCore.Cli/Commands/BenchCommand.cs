using CommandLine;

namespace PatchCore.Cli.Commands;

/// <summary>`pcnative bench backbone|kernels|run`: each target lives in its own file (Bench*.cs).</summary>
[Verb("bench", HelpText = "Benchmarks: 'backbone' (CPU backbone vs FMA peak), 'kernels' (per-kernel GPU/CPU timings vs ceilings), 'run' (a whole run stage by stage), 'train' (a fine-tuning step).")]
public sealed class BenchCommand : ICommand
{
    [Value(0, MetaName = "target", Required = true, HelpText = "backbone | kernels | run | train")]
    public string Target { get; set; } = "";

    [Option("backend", Default = "auto", HelpText = "auto | cpu | reference | gpu | cuda")]
    public string Backend { get; set; } = "auto";

    [Option("weights", HelpText = "Weight file (default weights/resnet18-cntk.safetensors).")]
    public string? Weights { get; set; }

    [Option("category", HelpText = "Category for 'bench run'; 'bench train': use its train/good images (default random images).")]
    public string? Category { get; set; }

    [Option("data-root", HelpText = "MVTec AD root for 'bench run' (default ./data/mvtec or PCNATIVE_DATA).")]
    public string? DataRoot { get; set; }

    [Option("threads", Default = 0, HelpText = "CPU threads (0 = all cores).")]
    public int Threads { get; set; }

    [Option("repeats", Default = 0, HelpText = "Timed repetitions (0 = the target's default).")]
    public int Repeats { get; set; }

    [Option("batch", HelpText = "Batch sizes, comma-separated (bench backbone; default 1,16); bench train: source images per step (default 8; rotation makes 4 rows of each).")]
    public string? Batch { get; set; }

    [Option("tf32", Default = false, HelpText = "Allow TF32 tensor-core GEMMs on the cuda backend.")]
    public bool Tf32 { get; set; }

    [Option("check", Default = false, HelpText = "bench kernels: compare every op with the reference backend (PASS/FAIL table, non-zero exit on a FAIL).")]
    public bool Check { get; set; }

    [Option("quick", Default = false, HelpText = "bench kernels: smaller problem sizes (a smoke run).")]
    public bool Quick { get; set; }

    [Option("json", HelpText = "Also write the results as JSON to this file.")]
    public string? Json { get; set; }

    [Option("task", Default = "rotation", HelpText = "bench train: rotation | contrastive")]
    public string Task { get; set; } = "rotation";

    [Option("train-stages", Default = "layer3", HelpText = "bench train: trained stages (layer3 or layer2,layer3).")]
    public string TrainStages { get; set; } = "layer3";

    [Option("batchnorm", Default = "frozen", HelpText = "bench train: frozen | train")]
    public string BatchNorm { get; set; } = "frozen";

    [Option("optimizer", Default = "sgd", HelpText = "bench train: sgd | adamw")]
    public string Optimizer { get; set; } = "sgd";

    [Option("resize", HelpText = "bench train: shorter side before the crop (default 256/224 of --crop).")]
    public int? Resize { get; set; }

    [Option("crop", Default = 224, HelpText = "bench train: image size.")]
    public int Crop { get; set; } = 224;

    [Option("steps", Default = 5, HelpText = "bench train: timed steps (the median is reported).")]
    public int Steps { get; set; } = 5;

    [Option("warmup", Default = 1, HelpText = "bench train: untimed steps first (JIT, pools).")]
    public int Warmup { get; set; } = 1;

    [Option("ops", Default = false, HelpText = "bench train: also print where a step's time goes, op by op.")]
    public bool Ops { get; set; }

    public int Execute() => Target switch
    {
        "backbone" => BenchBackbone.Run(this),
        "kernels" => BenchKernels.Run(this),
        "run" => BenchRun.Run(this),
        "train" => BenchTrain.Run(this),
        _ => throw new UserError($"bench: unknown target '{Target}' (backbone, kernels, run, train)"),
    };
}
