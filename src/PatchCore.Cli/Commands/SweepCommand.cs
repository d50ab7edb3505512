using CommandLine;
using PatchCore.Experiments;

namespace PatchCore.Cli.Commands;

[Verb("sweep", HelpText = "Run a grid or list of settings x categories from a sweep file (resumable; --shard K/N for one part, --merge for the summary).")]
public sealed class SweepCommand : ConfigOptions, ICommand
{
    [Value(0, MetaName = "FILE", Required = true, HelpText = "Sweep file: {\"categories\": [...], \"data_root\": ..., \"grid\": {key: [values]}, \"runs\": [{...}]}.")]
    public string File { get; set; } = "";

    [Option("out", HelpText = "Sweep folder (default runs/sweeps/<file name>). Running again resumes: runs with a DONE marker are skipped.")]
    public string? Out { get; set; }

    [Option("shard", HelpText = "Run only part K of N (K = 0 ... N-1, e.g. $SLURM_ARRAY_TASK_ID/N); parts are disjoint and cover the sweep. No summary: --merge builds it.")]
    public string? Shard { get; set; }

    [Option("merge", HelpText = "Run nothing: build summary.csv and summary.md from the finished runs of every part.")]
    public bool Merge { get; set; }

    [Option("data-root", HelpText = "Data root when the sweep file has no \"data_root\" (default $PCNATIVE_DATA, else ./data/mvtec).")]
    public string? DataRoot { get; set; }

    [Option("heatmaps", HelpText = "Write heat-map PNGs in every run folder (off by default in a sweep).")]
    public bool Heatmaps { get; set; }

    [Option("maps", HelpText = "Write predicted masks and raw maps in every run folder (off by default in a sweep).")]
    public bool Maps { get; set; }

    public int Execute()
    {
        if (Merge && Shard != null) throw new UserError("--merge and --shard: a merge reads every part; give one of them");
        var config = BuildConfig();
        var plan = SweepPlan.Load(File, config, DataRoot);
        string dir = Path.GetFullPath(Out ?? Path.Combine("runs", "sweeps", Path.GetFileNameWithoutExtension(File)));
        if (System.IO.File.Exists(dir)) throw new UserError($"--out {Out}: is a file, not a folder");
        if (Merge)
        {
            SweepRunner.CheckSameSweep(plan, dir);
            SweepSummary.Write(plan, dir);
            Console.Out.Write(System.IO.File.ReadAllText(Path.Combine(dir, SweepSummary.MarkdownFile)));
            Console.Out.WriteLine($"summary: {Path.Combine(dir, SweepSummary.CsvFile)}");
            return 0;
        }
        var runs = plan.Runs;
        string part = "";
        if (Shard != null)
        {
            var (k, n) = SweepPlan.ParseShard(Shard);
            runs = plan.Shard(k, n);
            part = $" (shard {k}/{n})";
        }
        Console.Error.WriteLine($"sweep {File}: {plan.Runs.Count} runs ({plan.Categories.Count} categories x {plan.Runs.Count / plan.Categories.Count} settings){part}: {runs.Count} here, into {dir}");
        using var backend = BackendFactory.Create(new BackendFactory.Options(Backend, config.Threads, Tf32));
        var runner = new SweepRunner(backend, Open, Console.Error) { Heatmaps = Heatmaps, Maps = Maps };
        var outcome = runner.Run(plan, dir, runs);
        Console.Error.WriteLine($"sweep: {outcome.Ran} runs done now, {outcome.Skipped} were done already");
        if (Shard == null)
        {
            SweepSummary.Write(plan, dir);
            Console.Out.Write(System.IO.File.ReadAllText(Path.Combine(dir, SweepSummary.MarkdownFile)));
            Console.Out.WriteLine($"summary: {Path.Combine(dir, SweepSummary.CsvFile)}");
        }
        else Console.Out.WriteLine($"shard {Shard} done; when every part is done: pcnative sweep {File} --out {dir} --merge");
        return 0;

        CategoryData Open(string category)
        {
            var data = DatasetArgs.Resolve(category, plan.DataRoot, out bool synthetic);
            return new CategoryData(data, synthetic);
        }
    }
}
