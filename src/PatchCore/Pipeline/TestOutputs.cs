using PatchCore.IO;

namespace PatchCore.Pipeline;

/// <summary>Scores and maps of a set of images, in input order: image scores [n], patch scores [n * grid],
/// anomaly maps [n * MapH * MapW], and the crops the maps lie over when heat maps are wanted. Errors: per image
/// why it could not be read, or null (only when bad images were tolerated; their scores mean nothing).</summary>
public sealed record TestOutputs(float[] ImageScores, float[] PatchScores, float[] Maps, int MapH, int MapW, RgbImage[]? Crops)
{
    public string?[]? Errors { get; init; }
}
