using CommandLine;
using PatchCore.Pipeline;

namespace PatchCore.Cli.Commands;

/// <summary>
/// The flags of the commands that use a saved model instead of fitting one (predict, evaluate): the model, where
/// to write, which backend, and the per-run settings that do not change results (threads, batch size). The
/// model's own config decides everything else, so the images are prepared as the bank's images were.
/// </summary>
public abstract class ModelCommandOptions
{
    [Option("model", Required = true, HelpText = "Model file written by 'pcnative fit' or 'run --model' (.pcm).")]
    public string Model { get; set; } = "";

    [Option("out", HelpText = "Output folder (default runs/<command>/…/<yyyyMMdd-HHmmss>).")]
    public string? Out { get; set; }

    [Option("overwrite", HelpText = "Allow --out to name a folder that is not empty: its contents are replaced when the command completes.")]
    public bool Overwrite { get; set; }

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

    /// <summary>The model (format 1 files warn on stderr) and the config to run it with: the model's, with this
    /// command's threads (capped to the cores) and batch size; checked before any compute.</summary>
    protected (PatchCoreModel Model, PatchCoreConfig Config) LoadModel()
    {
        var model = ModelFile.Load(Model, w => Console.Error.WriteLine("pcnative: warning: " + w));
        var config = model.Config with
        {
            Threads = Threads ?? model.Config.Threads,
            BatchSize = BatchSize ?? model.Config.BatchSize,
        };
        try { config = config.CapThreads(Console.Error.WriteLine).Validate(); }
        catch (ArgumentException e) { model.Dispose(); throw new UserError(e.Message); }
        return (model, config);
    }
}
