using CommandLine;

namespace PatchCore.Cli.Commands;

/// <summary>`pcnative bench backbone|kernels|run`: each target lives in its own file (Bench*.cs).</summary>
[Verb("bench", HelpText = "Benchmarks: 'backbone' (CPU backbone vs FMA peak), 'kernels' (per-kernel GPU/CPU timings vs ceilings), 'run' (a whole run stage by stage).")]
public sealed class BenchCommand : ICommand
{
    [Value(0, MetaName = "target", Required = true, HelpText = "backbone | kernels | run")]
    public string Target { get; set; } = "";

    [Option("backend", Default = "auto", HelpText = "auto | cpu | reference | gpu | cuda")]
    public string Backend { get; set; } = "auto";

    [Option("weights", HelpText = "Weight file (default weights/resnet18-cntk.safetensors).")]
    public string? Weights { get; set; }

    [Option("category", HelpText = "Category for 'bench run'.")]
    public string? Category { get; set; }

    [Option("data-root", HelpText = "MVTec AD root for 'bench run' (default ./data/mvtec or PCNATIVE_DATA).")]
    public string? DataRoot { get; set; }

    [Option("threads", Default = 0, HelpText = "CPU threads (0 = all cores).")]
    public int Threads { get; set; }

    [Option("repeats", Default = 0, HelpText = "Timed repetitions (0 = the target's default).")]
    public int Repeats { get; set; }

    [Option("batch", HelpText = "Batch sizes, comma-separated (bench backbone; default 1,16).")]
    public string? Batch { get; set; }

    [Option("tf32", Default = false, HelpText = "Allow TF32 tensor-core GEMMs on the cuda backend.")]
    public bool Tf32 { get; set; }

    [Option("check", Default = false, HelpText = "bench kernels: compare every op with the reference backend (PASS/FAIL table, non-zero exit on a FAIL).")]
    public bool Check { get; set; }

    [Option("quick", Default = false, HelpText = "bench kernels: smaller problem sizes (a smoke run).")]
    public bool Quick { get; set; }

    [Option("json", HelpText = "Also write the results as JSON to this file.")]
    public string? Json { get; set; }

    public int Execute() => Target switch
    {
        "backbone" => BenchBackbone.Run(this),
        "kernels" => BenchKernels.Run(this),
        "run" => BenchRun.Run(this),
        _ => throw new UserError($"bench: unknown target '{Target}' (backbone, kernels, run)"),
    };
}
