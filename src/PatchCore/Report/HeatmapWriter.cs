using PatchCore.IO;

namespace PatchCore.Report;

/// <summary>Writes the <see cref="Heatmap"/> of every image of a set, in parallel, with one colour scale for
/// the whole set (min..max of every map), so colours compare across images.</summary>
public static class HeatmapWriter
{
    /// <param name="maps">anomaly maps [n * mapH * mapW], image-major, over <paramref name="crops"/>.</param>
    /// <param name="masks">ground truth in the same layout, or null; an image without a true pixel gets no outline.</param>
    /// <param name="name">path of image i's PNG relative to <paramref name="dir"/>.</param>
    /// <param name="progress">advanced once per image written; may be null.</param>
    public static void WriteAll(string dir, RgbImage[] crops, float[] maps, int mapH, int mapW, bool[]? masks,
        Func<int, string> name, int threads, ProgressBar? progress = null)
    {
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        foreach (float v in maps) { if (v < lo) lo = v; if (v > hi) hi = v; }
        int plane = mapH * mapW, n = crops.Length;
        RemoveStaleTemps(dir, n, name);
        Workers.For(n, threads, i =>
        {
            bool[]? mask = null;
            if (masks != null)
            {
                mask = new bool[plane];
                Array.Copy(masks, (long)i * plane, mask, 0, plane);
                if (Array.IndexOf(mask, true) < 0) mask = null;
            }
            Heatmap.Write(Path.Combine(dir, name(i)), crops[i], maps.AsSpan(i * plane, plane), mask, lo, hi);
            progress?.Advance();
        });
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
