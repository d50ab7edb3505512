using PatchCore.Data;
using PatchCore.IO;
using PatchCore.Scoring;

namespace PatchCore.Report;

/// <summary>What is written under one heat map: the picture's name, the image score, its normalised value and
/// the decision (null when the model has no calibration, so no decision can be made).</summary>
public sealed record HeatmapCaption(string Name, float Score, double? NormalizedScore, bool? Anomalous);

/// <summary>
/// A set of heat maps to draw. Maps and masks are image-major [n * MapH * MapW] over the crops.
/// <see cref="PixelScale"/> fixes the colour scale for every picture the model ever draws (the pixel threshold is
/// the middle of the colour bar), so the same image always looks the same; without a calibration the scale falls
/// back to min..max over the set.
/// </summary>
public sealed record HeatmapSet(RgbImage[] Crops, float[] Maps, int MapH, int MapW)
{
    /// <summary>Ground truth, or null; an image without a true pixel gets no outline.</summary>
    public bool[]? Truth { get; init; }
    /// <summary>Predicted anomalous pixels (map ≥ pixel threshold), or null.</summary>
    public bool[]? Predicted { get; init; }
    /// <summary>The model's pixel calibration, or null (then min..max of this set's maps).</summary>
    public ScoreThreshold? PixelScale { get; init; }
    /// <summary>Path of image i's PNG relative to the heat-map folder.</summary>
    public required Func<int, string> RelativePath { get; init; }
    public required Func<int, HeatmapCaption> Caption { get; init; }
    /// <summary>When set, the whole source image is drawn (decoded again from this path) with the map over the
    /// crop it came from, instead of the crop alone; <see cref="Resize"/> says where the crop lies.</summary>
    public Func<int, string>? SourcePath { get; init; }
    public ResizeSpec? Resize { get; init; }
}

/// <summary>Writes the <see cref="Heatmap"/> of every image of a set, in parallel.</summary>
public static class HeatmapWriter
{
    /// <param name="progress">advanced once per image written; may be null.</param>
    public static void WriteAll(string dir, HeatmapSet set, int threads, ProgressBar? progress = null)
    {
        var scale = set.PixelScale ?? MinMaxScale(set.Maps);
        int plane = set.MapH * set.MapW, n = set.Crops.Length;
        RemoveStaleTemps(dir, n, set.RelativePath);
        Workers.For(n, threads, i =>
        {
            var panel = new HeatmapPanel(set.Crops[i], set.Maps.AsMemory(i * plane, plane), scale, set.Caption(i))
            {
                Truth = Slice(set.Truth, i, plane),
                Predicted = Slice(set.Predicted, i, plane),
                Source = set.SourcePath is { } src && set.Resize is { } r ? (ImageFile.Decode(src(i)), r) : null,
            };
            Heatmap.Write(Path.Combine(dir, set.RelativePath(i)), panel);
            progress?.Advance();
        });
    }

    /// <summary>The scale of an uncalibrated set: min..max of its maps, the middle as "threshold".</summary>
    static ScoreThreshold MinMaxScale(float[] maps)
    {
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        foreach (float v in maps) { if (v < lo) lo = v; if (v > hi) hi = v; }
        return new ScoreThreshold((lo + (double)hi) / 2, lo, "min..max of this set (no calibration)");
    }

    /// <summary>Image i's plane of a mask set; null when absent or without a true pixel.</summary>
    static bool[]? Slice(bool[]? masks, int i, int plane)
    {
        if (masks == null) return null;
        var mask = new bool[plane];
        Array.Copy(masks, (long)i * plane, mask, 0, plane);
        return Array.IndexOf(mask, true) < 0 ? null : mask;
    }

    /// <summary>Temp files of writes killed in an earlier run into the same folders (each PNG's temp lies
    /// beside it, so every folder the set writes into is swept once).</summary>
    static void RemoveStaleTemps(string dir, int n, Func<int, string> name)
    {
        var folders = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
            if (Path.GetDirectoryName(Path.Combine(dir, name(i))) is { } f && folders.Add(f)) AtomicFile.RemoveStale(f);
    }
}
