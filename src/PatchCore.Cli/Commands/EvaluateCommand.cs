using CommandLine;
using PatchCore.Pipeline;

namespace PatchCore.Cli.Commands;

[Verb("evaluate", HelpText = "Re-test a saved model (.pcm) on labelled data: metrics, scores and heat maps as 'run' writes them, without fitting.")]
public sealed class EvaluateCommand : ICommand
{
    [Option("model", Required = true, HelpText = "Model file written by 'pcnative fit' or 'run --model' (.pcm).")]
    public string Model { get; set; } = "";

    [Option("category", HelpText = "MVTec AD category to test on. Without it (and without data) the synthetic demo is used.")]
    public string? Category { get; set; }

    [Option("data-root", HelpText = "Folder holding <category>/test and ground_truth (default $PCNATIVE_DATA, else ./data/mvtec).")]
    public string? DataRoot { get; set; }

    [Option("out", HelpText = "Output folder (default runs/evaluate/<category>/<yyyyMMdd-HHmmss>).")]
    public string? Out { get; set; }

    [Option("weights", HelpText = "Weight file (default: the weights embedded in the model). Must be the one the model was fitted with.")]
    public string? Weights { get; set; }

    [Option("backend", Default = "auto", HelpText = "auto | cpu | reference | gpu | cuda")]
    public string Backend { get; set; } = "auto";

    [Option("threads", HelpText = "CPU threads (0 = all cores).")]
    public int? Threads { get; set; }

    [Option("batch-size", HelpText = "Images per backbone batch.")]
    public int? BatchSize { get; set; }

    [Option("tf32", Default = false, HelpText = "Allow TF32 tensor-core GEMMs on the cuda backend.")]
    public bool Tf32 { get; set; }

    [Option("no-heatmaps", HelpText = "Do not write heat-map PNGs.")]
    public bool NoHeatmaps { get; set; }

    [Option("no-maps", HelpText = "Do not write the predicted masks (masks/) and raw anomaly maps (maps/*.npy).")]
    public bool NoMaps { get; set; }

    [Option("heatmap-full", HelpText = "Draw heat maps over the whole image (the crop framed), not the centre crop only.")]
    public bool HeatmapFull { get; set; }

    [Option("overwrite", HelpText = "Replace a non-empty --out folder (its old contents go only when the new results are complete).")]
    public bool Overwrite { get; set; }

    public int Execute()
    {
        using var model = ModelFile.Load(Model, w => Console.Error.WriteLine("pcnative: warning: " + w));
        var config = model.Config with
        {
            Threads = Threads ?? model.Config.Threads,
            BatchSize = BatchSize ?? model.Config.BatchSize,
        };
        try { config = config.CapThreads(Console.Error.WriteLine).Validate(); }
        catch (ArgumentException e) { throw new UserError(e.Message); }
        var weights = model.BackboneWeights(Weights, Model);
        var data = DatasetArgs.Resolve(Category, DataRoot, out bool synthetic);
        using var folder = OutputFolder.Claim(Out, RunCommand.DefaultParent(Path.Combine("evaluate", data.Category)), Overwrite);
        using var backend = BackendFactory.Create(new BackendFactory.Options(Backend, config.Threads, Tf32));
        var runner = new Runner(backend, config, Console.Error, !Console.IsErrorRedirected);
        var r = runner.Evaluate(model, data, folder.WorkPath, weights, heatmaps: !NoHeatmaps, synthetic: synthetic,
            modelPath: Path.GetFullPath(Model), maps: !NoMaps, heatmapFull: HeatmapFull);
        folder.Publish();

        var o = Console.Out;
        o.WriteLine();
        o.WriteLine($"pcnative evaluate: {Path.GetFullPath(Model)} on {r.Category}{(r.Synthetic ? "  (SYNTHETIC demo data, not a benchmark)" : "")}");
        o.WriteLine($"  backend      {r.Backend}: {r.BackendDescription}");
        o.WriteLine($"  images       {r.NTest} test (model: {r.BankSize}-row bank from {r.NTrain} train images)");
        o.WriteLine();
        o.WriteLine("  metric          %");
        foreach (var (key, label) in (ReadOnlySpan<(string, string)>)[("image_auroc", "image AUROC"), ("pixel_auroc", "pixel AUROC"), ("aupro", "AUPRO (0.3)"), ("f1_max", "F1-max (image)")])
            o.WriteLine(r.Metrics.TryGetValue(key, out double v) ? $"  {label,-15} {v * 100,6:F2}" : $"  {label,-15}    n/a");
        if (r.PerDefectType is { Count: > 0 } types)
        {
            o.WriteLine();
            o.WriteLine("  defect type     image AUROC %   n");
            foreach (var (type, a) in types) o.WriteLine($"  {type,-15} {a.ImageAuroc * 100,13:F2} {a.N,3}");
        }
        o.WriteLine();
        o.WriteLine($"  output       {folder.FinalPath}  ({r.Timings.Total:F1}s)");
        return 0;
    }
}
