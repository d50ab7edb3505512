using CommandLine;
using PatchCore.Pipeline;

namespace PatchCore.Cli.Commands;

[Verb("run", HelpText = "Learn a memory bank from train/good, score every test image, write maps, metrics and a report.")]
public sealed class RunCommand : ConfigOptions, ICommand
{
    [Option("category", HelpText = "MVTec AD category (bottle, carpet, ..., zipper). Without it (and without data) a synthetic demo runs.")]
    public string? Category { get; set; }

    [Option("data-root", HelpText = "Folder holding <category>/train/good (default $PCNATIVE_DATA, else ./data/mvtec).")]
    public string? DataRoot { get; set; }

    [Option("out", HelpText = "Output folder (default runs/<category>/<yyyyMMdd-HHmmss>).")]
    public string? Out { get; set; }

    [Option("overwrite", HelpText = "Allow --out to name a folder that is not empty: its contents are replaced when the run completes.")]
    public bool Overwrite { get; set; }

    [Option("no-heatmaps", HelpText = "Do not write heat-map PNGs.")]
    public bool NoHeatmaps { get; set; }

    [Option("no-maps", HelpText = "Do not write the predicted masks (masks/) and raw anomaly maps (maps/*.npy).")]
    public bool NoMaps { get; set; }

    [Option("heatmap-full", HelpText = "Draw heat maps over the whole image (the crop framed), not the centre crop only.")]
    public bool HeatmapFull { get; set; }

    [Option("model", HelpText = "Also write the fitted model (.pcm) here.")]
    public string? Model { get; set; }

    public int Execute()
    {
        var config = BuildConfig();
        var data = DatasetArgs.Resolve(Category, DataRoot, out bool synthetic);
        // Every output is checked (and the folder claimed) before any compute; results appear complete at Publish.
        if (Model != null) OutputFolder.CheckFileTarget(Model, "--model");
        using var folder = OutputFolder.Claim(Out, DefaultParent(data.Category), Overwrite);
        using var backend = BackendFactory.Create(new BackendFactory.Options(Backend, config.Threads, Tf32));
        var runner = new Runner(backend, config, Console.Error, !Console.IsErrorRedirected);
        var result = runner.Run(data, folder.WorkPath, heatmaps: !NoHeatmaps, synthetic: synthetic, modelPath: Model,
            maps: !NoMaps, heatmapFull: HeatmapFull);
        folder.Publish();
        RunSummary.Print(Console.Out, result, folder.FinalPath);
        return 0;
    }

    /// <summary>Where default output folders go (<see cref="OutputFolder.Claim"/> names them by time).</summary>
    public static string DefaultParent(string category) => Path.Combine("runs", category);
}
