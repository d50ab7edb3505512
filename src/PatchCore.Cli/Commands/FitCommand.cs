using System.Diagnostics;
using CommandLine;
using PatchCore.Pipeline;

namespace PatchCore.Cli.Commands;

[Verb("fit", HelpText = "Learn a memory bank and write the deployable model file (.pcm).")]
public sealed class FitCommand : ConfigOptions, ICommand
{
    [Option("category", HelpText = "MVTec AD category. Without it (and without data) the synthetic demo is used.")]
    public string? Category { get; set; }

    [Option("data-root", HelpText = "Folder holding <category>/train/good (default $PCNATIVE_DATA, else ./data/mvtec).")]
    public string? DataRoot { get; set; }

    [Option("model", Required = true, HelpText = "Model file to write (.pcm).")]
    public string Model { get; set; } = "";

    [Option("calibration-dir", HelpText = "Calibrate on the nominal images of this folder instead of holding out a share of train/good (the bank then uses all of train/good).")]
    public string? CalibrationDir { get; set; }

    public int Execute()
    {
        var config = BuildConfig();
        var data = DatasetArgs.Resolve(Category, DataRoot, out _);
        OutputFolder.CheckFileTarget(Model, "--model"); // the write itself is atomic; this fails before the fit
        List<string>? calibrationImages = null;
        if (CalibrationDir != null)
        {
            if (!Directory.Exists(CalibrationDir)) throw new UserError($"--calibration-dir {CalibrationDir}: no such folder");
            calibrationImages = PredictCommand.ExpandInputs([CalibrationDir]).Select(i => i.Path).ToList();
        }
        using var backend = BackendFactory.Create(new BackendFactory.Options(Backend, config.Threads, Tf32));
        var runner = new Runner(backend, config, Console.Error, !Console.IsErrorRedirected);
        var t0 = Stopwatch.GetTimestamp();
        var (w, net) = runner.LoadBackbone();
        using (net)
        using (var model = runner.FitCalibrated(net, w, data.TrainImages, calibrationImages,
                   CalibrationDir != null ? $"folder {CalibrationDir}" : null))
        {
            ModelFile.Save(model, Model, w); // embeds the weights cut after layer3: one deployable file
            Console.WriteLine($"model: {Path.GetFullPath(Model)}  ({model.BankRows} x {model.Dim} bank from {model.TrainImages} images of {data.Category}, {Stopwatch.GetElapsedTime(t0).TotalSeconds:F1}s)");
            Console.WriteLine(model.Calibration is { } c
                ? $"calibration: image threshold {c.Image.Threshold:G6}, pixel threshold {c.Pixel.Threshold:G6} at false-alarm rate {c.FalseAlarmRate:G4} from {c.NominalImages} images ({c.Source}); it promises at most {c.PromisedFalseAlarmRate * 100:G3}% false alarms on images like these{(c.PromisedFalseAlarmRate > c.FalseAlarmRate * 1.0001 ? (c.FalseAlarmRate > 0 ? $" (too few images for {c.FalseAlarmRate:G4}: {Math.Ceiling(1 / c.FalseAlarmRate - 1)} needed)" : " (no finite number of images promises 0)") : "")}"
                : "calibration: none (the model makes no decisions)");
        }
        return 0;
    }
}
