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

    public int Execute()
    {
        var config = BuildConfig();
        var data = DatasetArgs.Resolve(Category, DataRoot, out _);
        OutputFolder.CheckFileTarget(Model, "--model"); // the write itself is atomic; this fails before the fit
        using var backend = BackendFactory.Create(new BackendFactory.Options(Backend, config.Threads, Tf32));
        var runner = new Runner(backend, config, Console.Error, !Console.IsErrorRedirected);
        var t0 = Stopwatch.GetTimestamp();
        var (w, net) = runner.LoadBackbone();
        using (net)
        using (var model = runner.Fit(net, w, data.TrainImages))
        {
            ModelFile.Save(model, Model);
            Console.WriteLine($"model: {Path.GetFullPath(Model)}  ({model.BankRows} x {model.Dim} bank from {data.TrainImages.Count} images of {data.Category}, {Stopwatch.GetElapsedTime(t0).TotalSeconds:F1}s)");
        }
        return 0;
    }
}
