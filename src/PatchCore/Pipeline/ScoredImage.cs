namespace PatchCore.Pipeline;

/// <summary>One scored test image. Label is -1 for unlabelled images (predict).</summary>
public sealed record ScoredImage(string Path, string Name, string DefectType, int Label, float Score);
