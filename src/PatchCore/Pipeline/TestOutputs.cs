using PatchCore.IO;

namespace PatchCore.Pipeline;

/// <summary>Scores and maps of a set of images, in input order: image scores [n], patch scores [n * grid],
/// anomaly maps [n * MapH * MapW], and the crops the maps lie over when heat maps are wanted.</summary>
public sealed record TestOutputs(float[] ImageScores, float[] PatchScores, float[] Maps, int MapH, int MapW, RgbImage[]? Crops);
