using CommandLine;
using PatchCore.Pipeline;

namespace PatchCore.Cli.Commands;

[Verb("evaluate", HelpText = "Re-test a saved model (.pcm) on labelled data: metrics, scores and heat maps as 'run' writes them, without fitting.")]
public sealed class EvaluateCommand : ModelCommandOptions, ICommand
{
    [Option("category", HelpText = "MVTec AD category to test on. Without it (and without data) the synthetic demo is used.")]
    public string? Category { get; set; }

    [Option("data-root", HelpText = "Folder holding <category>/test and ground_truth (default $PCNATIVE_DATA, else ./data/mvtec).")]
    public string? DataRoot { get; set; }

    public int Execute()
    {
        var (model, config) = LoadModel();
        using var _ = model;
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
