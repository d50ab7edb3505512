using PatchCore.IO;

namespace PatchCore.Report;

/// <summary>
/// The per-image outputs beside the heat maps: <c>maps/&lt;rel&gt;.npy</c>, the raw anomaly map as float32 (for
/// users' own analysis), and, when the model is calibrated, <c>masks/&lt;rel&gt;.png</c>, the predicted defect
/// mask (255 where the map ≥ the pixel threshold, else 0; gray, at the map's size, i.e. the crop). Each file
/// is written atomically.
/// </summary>
public static class DecisionMapsWriter
{
    /// <summary>Predicted anomalous pixels of every map (map ≥ threshold), image-major like the maps.</summary>
    public static bool[] Predict(float[] maps, double pixelThreshold)
    {
        var predicted = new bool[maps.LongLength];
        for (long i = 0; i < maps.LongLength; i++) predicted[i] = maps[i] >= pixelThreshold;
        return predicted;
    }

    /// <param name="relativeStem">image i's path relative to the output folders, without extension.</param>
    /// <param name="predicted">from <see cref="Predict"/>, or null (uncalibrated: no masks).</param>
    public static void WriteAll(string outDir, float[] maps, int mapH, int mapW, int n, Func<int, string> relativeStem,
        bool[]? predicted, int threads)
    {
        int plane = mapH * mapW;
        if (maps.LongLength != (long)n * plane) throw new ArgumentException($"{maps.LongLength} map values are not {n} x {mapH} x {mapW}");
        string mapDir = Path.Combine(outDir, "maps"), maskDir = Path.Combine(outDir, "masks");
        var folders = Folders(mapDir, n, relativeStem);
        if (predicted != null) folders.UnionWith(Folders(maskDir, n, relativeStem));
        foreach (string f in folders) if (Directory.Exists(f)) AtomicFile.RemoveStale(f);
        // Writing is mostly waiting for fsync: more writers than cores, and each folder synced once at the end
        // instead of after every file (200 small files: 400 fsyncs became 200 + a few).
        Workers.For(n, (threads > 0 ? threads : Environment.ProcessorCount) * 4, i =>
        {
            string rel = relativeStem(i);
            NpyFile.Write(Path.Combine(mapDir, rel + ".npy"), maps.AsSpan(i * plane, plane), mapH, mapW, syncDirectory: false);
            if (predicted == null) return;
            var px = new byte[plane];
            for (int p = 0; p < plane; p++) px[p] = predicted[(long)i * plane + p] ? (byte)255 : (byte)0;
            ImageFile.WritePng(Path.Combine(maskDir, rel + ".png"), mapW, mapH, 1, px, syncDirectory: false);
        });
        foreach (string f in folders) AtomicFile.SyncDirectory(f);
    }

    /// <summary>The folders the files of <paramref name="dir"/> go to (temp files of killed writes lie there).</summary>
    static HashSet<string> Folders(string dir, int n, Func<int, string> rel)
    {
        var folders = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
            if (Path.GetDirectoryName(Path.Combine(dir, rel(i))) is { } f) folders.Add(f);
        return folders;
    }
}
