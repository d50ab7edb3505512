using CommandLine;
using PatchCore.Data;
using PatchCore.Pipeline;

namespace PatchCore.Cli.Commands;

[Verb("predict", HelpText = "Score new images (no labels) with a model file; write scores and heat maps.")]
public sealed class PredictCommand : ICommand
{
    [Option("model", Required = true, HelpText = "Model file written by 'pcnative fit' (.pcm).")]
    public string Model { get; set; } = "";

    [Value(0, MetaName = "images", Required = true, HelpText = "Image files and/or folders of images.")]
    public IEnumerable<string> Inputs { get; set; } = [];

    [Option("out", HelpText = "Output folder (default runs/predict/<yyyyMMdd-HHmmss>).")]
    public string? Out { get; set; }

    [Option("weights", HelpText = "Weight file (default: the one named in the model). Must be the one the model was fitted with.")]
    public string? Weights { get; set; }

    [Option("backend", Default = "auto", HelpText = "auto | cpu | reference | gpu | cuda")]
    public string Backend { get; set; } = "auto";

    [Option("threads", HelpText = "CPU threads (0 = all cores).")]
    public int? Threads { get; set; }

    [Option("batch-size", HelpText = "Images per backbone batch.")]
    public int? BatchSize { get; set; }

    [Option("tf32", Default = false, HelpText = "Allow TF32 tensor-core GEMMs on the cuda backend.")]
    public bool Tf32 { get; set; }

    [Option("overwrite", HelpText = "Allow --out to name a folder that is not empty: its contents are replaced when predict completes.")]
    public bool Overwrite { get; set; }

    [Option("no-heatmaps", HelpText = "Do not write heat-map PNGs.")]
    public bool NoHeatmaps { get; set; }

    public int Execute()
    {
        using var model = ModelFile.Load(Model);
        var config = model.Config with
        {
            Weights = Weights ?? model.Config.Weights,
            Threads = Threads ?? model.Config.Threads,
            BatchSize = BatchSize ?? model.Config.BatchSize,
        };
        try { config = config.CapThreads(Console.Error.WriteLine).Validate(); }
        catch (ArgumentException e) { throw new UserError(e.Message); }
        var images = ExpandInputs(Inputs);
        using var folder = OutputFolder.Claim(Out, RunCommand.DefaultParent("predict"), Overwrite);
        using var backend = BackendFactory.Create(new BackendFactory.Options(Backend, config.Threads, Tf32));
        var runner = new Runner(backend, config, Console.Error, !Console.IsErrorRedirected);
        var scored = runner.Predict(model, images, folder.WorkPath, heatmaps: !NoHeatmaps);
        folder.Publish();
        int width = Math.Min(60, scored.Max(s => s.Name.Length));
        foreach (var s in scored) Console.WriteLine($"{s.Name.PadRight(width)}  {s.Score:G6}");
        Console.WriteLine($"scores: {Path.Combine(folder.FinalPath, "scores.csv")}  ({runner.Timings.Total:F1}s)");
        return 0;
    }

    /// <summary>Files as given, folders expanded to their images (sorted); nothing found is an error.</summary>
    public static List<string> ExpandInputs(IEnumerable<string> inputs)
    {
        var list = new List<string>();
        foreach (var p in inputs)
        {
            if (Directory.Exists(p))
            {
                var files = MvtecDataset.ListImagesRecursive(p); // links followed, loops not
                if (files.Count == 0) throw new UserError($"{p}: folder holds no images");
                list.AddRange(files);
            }
            else if (File.Exists(p)) list.Add(p);
            else throw new UserError($"{p}: no such file or folder");
        }
        if (list.Count == 0) throw new UserError("predict: no images given");
        return list;
    }
}
