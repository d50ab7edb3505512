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

    [Option("overwrite", HelpText = "Allow --out to name a folder that is not empty: its contents are replaced when predict completes.")]
    public bool Overwrite { get; set; }

    [Option("no-heatmaps", HelpText = "Do not write heat-map PNGs.")]
    public bool NoHeatmaps { get; set; }

    [Option("no-maps", HelpText = "Do not write the predicted masks (masks/) and raw anomaly maps (maps/*.npy).")]
    public bool NoMaps { get; set; }

    [Option("heatmap-full", HelpText = "Draw heat maps over the whole image (the crop framed), not the centre crop only.")]
    public bool HeatmapFull { get; set; }

    public int Execute()
    {
        using var model = ModelFile.Load(Model, w => Console.Error.WriteLine("pcnative: warning: " + w));
        var weights = model.BackboneWeights(Weights, Model);
        var config = model.Config with
        {
            Threads = Threads ?? model.Config.Threads,
            BatchSize = BatchSize ?? model.Config.BatchSize,
        };
        try { config = config.CapThreads(Console.Error.WriteLine).Validate(); }
        catch (ArgumentException e) { throw new UserError(e.Message); }
        var inputs = ExpandInputs(Inputs);
        using var folder = OutputFolder.Claim(Out, RunCommand.DefaultParent("predict"), Overwrite);
        using var backend = BackendFactory.Create(new BackendFactory.Options(Backend, config.Threads, Tf32));
        var runner = new Runner(backend, config, Console.Error, !Console.IsErrorRedirected);
        var images = inputs.Select(i => i.Path).ToList();
        var relative = inputs.Select(i => i.Relative).ToList();
        var result = runner.Predict(model, images, folder.WorkPath, heatmaps: !NoHeatmaps, relativePaths: relative,
            maps: !NoMaps, heatmapFull: HeatmapFull, weights: weights);
        folder.Publish();
        Print(Console.Out, result, model.Calibration != null);
        Console.WriteLine($"scores: {Path.Combine(folder.FinalPath, "scores.csv")}  ({runner.Timings.Total:F1}s)");
        if (result.Errors.Count == 0) return 0;
        Console.Error.WriteLine($"pcnative: error: {result.Errors.Count} of {images.Count} images could not be scored; listed in {Path.Combine(folder.FinalPath, "errors.csv")}");
        return 1;
    }

    /// <summary>One line per image: name, raw score, and with a calibration the normalised score and the decision;
    /// then one line per image that failed.</summary>
    public static void Print(TextWriter o, PredictResult result, bool calibrated)
    {
        if (!calibrated) o.WriteLine("note: the model is uncalibrated: raw scores only, no decision (fit it again to calibrate)");
        int width = 8;
        foreach (var s in result.Images) width = Math.Max(width, Math.Min(60, s.Name.Length));
        foreach (var s in result.Images)
            o.WriteLine(calibrated
                ? $"{s.Name.PadRight(width)}  {s.Score,12:G6}  {s.Normalized,6:F3}  {(s.Anomalous == true ? "ANOMALOUS" : "GOOD")}"
                : $"{s.Name.PadRight(width)}  {s.Score,12:G6}");
        foreach (var (path, error) in result.Errors) o.WriteLine($"{path.PadRight(width)}  FAILED: {error}");
    }

    /// <summary>One input image and its path relative to what was given (<see cref="OutputNames.ForInput"/>):
    /// the outputs mirror it.</summary>
    public sealed record InputImage(string Path, string Relative);

    /// <summary>Files as given, folders expanded to their images (sorted); nothing found is an error.</summary>
    public static List<InputImage> ExpandInputs(IEnumerable<string> inputs)
    {
        var list = new List<InputImage>();
        foreach (var p in inputs)
        {
            if (Directory.Exists(p))
            {
                var files = MvtecDataset.ListImagesRecursive(p); // links followed, loops not
                if (files.Count == 0) throw new UserError($"{p}: folder holds no images");
                foreach (var f in files) list.Add(new InputImage(f, OutputNames.ForInput(f, p)));
            }
            else if (File.Exists(p)) list.Add(new InputImage(p, OutputNames.ForInput(p, null)));
            else throw new UserError($"{p}: no such file or folder");
        }
        if (list.Count == 0) throw new UserError("predict: no images given");
        return list;
    }
}
