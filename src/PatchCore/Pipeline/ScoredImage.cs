namespace PatchCore.Pipeline;

/// <summary>One scored image. Label is the ground truth (0 good, 1 anomalous), -1 for unlabelled images (predict).
/// Normalized and Anomalous are the model's decision (null when it is uncalibrated); Heatmap is the heat map's
/// path relative to the output folder ("" when none was written).</summary>
public sealed record ScoredImage(string Path, string Name, string DefectType, int Label, float Score)
{
    public double? Normalized { get; init; }
    public bool? Anomalous { get; init; }
    public string Heatmap { get; init; } = "";
}
