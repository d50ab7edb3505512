using CommandLine;
using PatchCore.Data;
using PatchCore.Experiments;
using PatchCore.Pipeline;

namespace PatchCore.Cli.Commands;

[Verb("run", HelpText = "Learn a memory bank from train/good, score every test image, write maps, metrics and a report.")]
public sealed class RunCommand : ConfigOptions, ICommand
{
    [Option("category", HelpText = "MVTec AD category (bottle, carpet, ..., zipper); a comma-separated list or 'all' (every category folder under the data root) runs each into --out/<category>/ with summary.csv and summary.md. Without it (and without data) a synthetic demo runs.")]
    public string? Category { get; set; }

    [Option("data-root", HelpText = "Folder holding <category>/train/good (default $PCNATIVE_DATA, else ./data/mvtec).")]
    public string? DataRoot { get; set; }

    [Option("out", HelpText = "Output folder (default runs/<category>/<yyyyMMdd-HHmmss>; several categories: runs/multi/<yyyyMMdd-HHmmss>).")]
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
        if (Categories() is { } several) return RunSeveral(config, several);
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

    /// <summary>The categories of a multi-category run ('a,b' or 'all'); null for one category (or the demo).</summary>
    List<string>? Categories()
    {
        if (Category == null) return null;
        if (Category == "all")
        {
            string root = MvtecDataset.ResolveRoot(DataRoot);
            var found = MvtecDataset.FindCategories(root);
            if (found.Count == 0) throw new UserError($"--category all: no category folder (with train/good) under {root}; pass --data-root DIR");
            return found;
        }
        if (!Category.Contains(',')) return null;
        var list = new List<string>();
        foreach (var c in Category.Split(','))
        {
            string name = c.Trim();
            if (name.Length == 0) throw new UserError($"--category {Category}: an empty name in the list");
            if (list.Contains(name)) throw new UserError($"--category {Category}: '{name}' is listed twice");
            list.Add(name);
        }
        return list;
    }

    int RunSeveral(PatchCoreConfig config, List<string> categories)
    {
        if (Model != null) throw new UserError("--model writes one model: it needs one --category, not several");
        var data = new Dictionary<string, CategoryData>();
        foreach (var c in categories) // every category is found before any compute
            data[c] = new CategoryData(DatasetArgs.Resolve(c, DataRoot, out bool synthetic), synthetic);
        using var folder = OutputFolder.Claim(Out, Path.Combine("runs", "multi"), Overwrite);
        using var backend = BackendFactory.Create(new BackendFactory.Options(Backend, config.Threads, Tf32));
        MultiCategoryRun.Run(backend, config, categories, c => data[c], folder.WorkPath,
            new MultiCategoryRun.Options(!NoHeatmaps, !NoMaps, HeatmapFull), Console.Error, !Console.IsErrorRedirected);
        folder.Publish();
        Console.Out.WriteLine();
        Console.Out.Write(File.ReadAllText(Path.Combine(folder.FinalPath, "summary.md")));
        Console.Out.WriteLine($"output: {folder.FinalPath}");
        return 0;
    }

    /// <summary>Where default output folders go (<see cref="OutputFolder.Claim"/> names them by time).</summary>
    public static string DefaultParent(string category) => Path.Combine("runs", category);
}
