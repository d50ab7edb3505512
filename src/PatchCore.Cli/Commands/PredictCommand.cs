using CommandLine;
using PatchCore.Data;
using PatchCore.Pipeline;

namespace PatchCore.Cli.Commands;

[Verb("predict", HelpText = "Score new images (no labels) with a model file; write scores and heat maps.")]
public sealed class PredictCommand : ModelCommandOptions, ICommand
{
    [Value(0, MetaName = "images", Required = true, HelpText = "Image files and/or folders of images.")]
    public IEnumerable<string> Inputs { get; set; } = [];

    public int Execute()
    {
        var (model, config) = LoadModel();
        using var _ = model;
        var weights = model.BackboneWeights(Weights, Model);
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
