using CommandLine;
using PatchCore.Pipeline;

namespace PatchCore.Cli.Commands;

/// <summary>
/// Every hyperparameter as a flag, shared by run and fit. A flag that is given overrides --config FILE, which
/// overrides the defaults (<see cref="PatchCoreConfig"/>).
/// </summary>
public abstract class ConfigOptions
{
    [Option("config", HelpText = "JSON config (snake_case keys, as results.json's \"config\"); flags override it.")]
    public string? Config { get; set; }

    [Option("save-config", HelpText = "Write the effective config as JSON to this file.")]
    public string? SaveConfig { get; set; }

    [Option("weights", HelpText = "Backbone weights (default weights/resnet18-cntk.safetensors).")]
    public string? Weights { get; set; }

    [Option("backend", Default = "auto", HelpText = "auto | cpu | reference | gpu | cuda")]
    public string Backend { get; set; } = "auto";

    [Option("tf32", Default = false, HelpText = "Allow TF32 tensor-core GEMMs on the cuda backend.")]
    public bool Tf32 { get; set; }

    [Option("threads", HelpText = "CPU threads (0 = all cores).")]
    public int? Threads { get; set; }

    [Option("batch-size", HelpText = "Images per backbone batch (default 16).")]
    public int? BatchSize { get; set; }

    [Option("resize", HelpText = "Shorter side resized to this (default 256).")]
    public int? Resize { get; set; }

    [Option("crop", HelpText = "Centre crop (default 224).")]
    public int? Crop { get; set; }

    [Option("square-resize", HelpText = "anomalib-style: resize both sides to --resize, no crop.")]
    public bool SquareResize { get; set; }

    [Option("aggregation", HelpText = "official | anomalib (default official).")]
    public string? Aggregation { get; set; }

    [Option("patch-size", HelpText = "Neighbourhood of the patch aggregation (default 3).")]
    public int? PatchSize { get; set; }

    [Option("pretrain-dim", HelpText = "Per-layer dimension after adaptive pooling (default 1024).")]
    public int? PretrainDim { get; set; }

    [Option("target-dim", HelpText = "Final feature dimension (default 1024).")]
    public int? TargetDim { get; set; }

    [Option("coreset", HelpText = "Fraction of training patches kept in the memory bank (default 0.1; 1 = all).")]
    public double? Coreset { get; set; }

    [Option("projection-dim", HelpText = "Random projection of the coreset search (default 128).")]
    public int? ProjectionDim { get; set; }

    [Option("projection", HelpText = "Coreset projection matrix: gaussian (default) | uniform (the official code's untrained torch Linear).")]
    public string? Projection { get; set; }

    [Option("start-points", HelpText = "Random start points of the coreset (default 10).")]
    public int? StartPoints { get; set; }

    [Option('k', HelpText = "Nearest neighbours averaged into a patch score (default 1); --k is accepted too.")]
    public int? K { get; set; }

    [Option("score-distance", HelpText = "squared (official) | l2 (anomalib).")]
    public string? ScoreDistance { get; set; }

    [Option("reweight", HelpText = "Paper eq. 7 image-score reweighting.")]
    public bool Reweight { get; set; }

    [Option("reweight-b", HelpText = "Neighbourhood size b of eq. 7 (default 9).")]
    public int? ReweightB { get; set; }

    [Option("seed", HelpText = "Seed of the coreset's projection and start points (default 0).")]
    public int? Seed { get; set; }

    [Option("sigma", HelpText = "Gaussian blur of the anomaly maps in pixels (default 4).")]
    public float? Sigma { get; set; }

    [Option("calibration", HelpText = "fit: share of train/good held out of the bank to calibrate the decision thresholds (default 0: none held out, the bank is all of train/good and each training image is scored leave-one-out). run keeps its bank whole and ignores it.")]
    public double? Calibration { get; set; }

    [Option("false-alarm-rate", HelpText = "Share of nominal images (and pixels) the calibrated thresholds call anomalous (default 0.01).")]
    public double? FalseAlarmRate { get; set; }

    [Option("calibration-images", HelpText = "Training images scored leave-one-out (against the bank without their own rows) to calibrate: default 16 for run, all for fit; 0 = no calibration. 1% false alarms needs 99 or more.")]
    public int? CalibrationImages { get; set; }

    /// <summary>Defaults, then --config, then flags.</summary>
    public PatchCoreConfig BuildConfig()
    {
        var c = Config != null ? PatchCoreConfig.Load(Config) : new PatchCoreConfig();
        c = Apply(c).CapThreads(Console.Error.WriteLine);
        try { c.Validate(); }
        catch (ArgumentException e) { throw new UserError(e.Message.Replace("config: ", "", StringComparison.Ordinal) + FlagHint(e.Message)); }
        if (SaveConfig != null)
        {
            OutputFolder.CheckFileTarget(SaveConfig, "--save-config");
            c.Save(SaveConfig);
        }
        return c;
    }

    /// <summary>" (--flag)" for a Validate message "config: key ...": the user may have typed either.</summary>
    static string FlagHint(string message)
    {
        const string prefix = "config: ";
        if (!message.StartsWith(prefix, StringComparison.Ordinal)) return "";
        int end = message.IndexOf(' ', prefix.Length);
        string key = end < 0 ? "" : message[prefix.Length..end];
        return key.Length == 0 ? "" : $" (--{key.Replace('_', '-')})";
    }

    public PatchCoreConfig Apply(PatchCoreConfig c) => c with
    {
        Weights = Weights ?? c.Weights,
        Threads = Threads ?? c.Threads,
        BatchSize = BatchSize ?? c.BatchSize,
        Resize = Resize ?? c.Resize,
        Crop = Crop ?? c.Crop,
        SquareResize = SquareResize || c.SquareResize,
        Aggregation = Aggregation?.ToLowerInvariant() ?? c.Aggregation,
        PatchSize = PatchSize ?? c.PatchSize,
        PretrainDim = PretrainDim ?? c.PretrainDim,
        TargetDim = TargetDim ?? c.TargetDim,
        Coreset = Coreset ?? c.Coreset,
        ProjectionDim = ProjectionDim ?? c.ProjectionDim,
        StartPoints = StartPoints ?? c.StartPoints,
        Projection = Projection ?? c.Projection,
        K = K ?? c.K,
        ScoreDistance = ScoreDistance?.ToLowerInvariant() ?? c.ScoreDistance,
        Reweight = Reweight || c.Reweight,
        ReweightB = ReweightB ?? c.ReweightB,
        Seed = Seed ?? c.Seed,
        Sigma = Sigma ?? c.Sigma,
        Calibration = Calibration ?? c.Calibration,
        FalseAlarmRate = FalseAlarmRate ?? c.FalseAlarmRate,
        CalibrationImages = CalibrationImages ?? c.CalibrationImages,
    };
}
