using System.Text.Json;

namespace PatchCore.ReportDocument.Inputs;

/// <summary>
/// What a report is made from: every run folder under the given folder (a folder holding results.json, found
/// recursively, so a single run, a multi-category folder, a sweep or a whole runs/ tree all work), and the swept
/// parameters: the grid of sweep.json when there is one, otherwise the params.json keys that vary between runs,
/// otherwise the scalar config keys that vary (so runs/ with two coreset fractions still gets its sweep plots).
/// The seed is never an axis: runs that differ only by seed are repeats (mean ± sd).
/// </summary>
public sealed record ReportInput(string Root, IReadOnlyList<RunData> Runs, IReadOnlyList<string> SweptParams, bool IsSweep)
{
    /// <summary>Config keys that never make a sweep axis: they do not change the result or identify the input.</summary>
    static readonly HashSet<string> NotAxes = ["seed", "threads", "weights", "weights_sha256", "batch_size", "layers"];

    public static ReportInput Load(string root)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"{root}: no such folder");
        var dirs = new List<string>();
        Collect(Path.GetFullPath(root), dirs);
        if (dirs.Count == 0) throw new InvalidDataException($"{root}: no run folder (a folder with results.json) in it");
        dirs.Sort(StringComparer.Ordinal);
        string full = Path.GetFullPath(root);
        var runs = new List<RunData>(dirs.Count);
        foreach (var d in dirs)
        {
            string rel = Path.GetRelativePath(full, d);
            runs.Add(RunFolderReader.Read(d, rel == "." ? Path.GetFileName(d.TrimEnd(Path.DirectorySeparatorChar)) : rel));
        }

        string sweepJson = Path.Combine(root, "sweep.json");
        bool isSweep = File.Exists(sweepJson);
        var swept = isSweep ? GridKeys(sweepJson) : VaryingParams(runs);
        if (swept.Count == 0) swept = VaryingConfig(runs);
        swept.RemoveAll(NotAxes.Contains);
        // A grid key a run did not record in params.json is taken from its config (same name), so the value is known.
        for (int i = 0; i < runs.Count; i++)
        {
            var missing = swept.Where(k => !runs[i].Params.ContainsKey(k)).ToList();
            if (missing.Count == 0) continue;
            var p = new Dictionary<string, string>(runs[i].Params);
            var config = ConfigScalars(runs[i]);
            foreach (var k in missing) if (config.TryGetValue(k, out var v)) p[k] = v;
            runs[i] = runs[i] with { Params = p };
        }
        return new ReportInput(root, runs, swept, isSweep);
    }

    static void Collect(string dir, List<string> found)
    {
        // Hidden folders are a run's unfinished .partial output or tool state: never part of a report.
        if (Path.GetFileName(dir).StartsWith('.')) return;
        if (RunFolderReader.IsRunFolder(dir)) { found.Add(dir); return; }
        foreach (var sub in Directory.EnumerateDirectories(dir)) Collect(sub, found);
    }

    static List<string> GridKeys(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var keys = new List<string>();
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("grid", out var g)
                && g.ValueKind == JsonValueKind.Object)
                foreach (var p in g.EnumerateObject()) keys.Add(p.Name);
            return keys;
        }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message.Split('\n')[0]})"); }
    }

    static List<string> VaryingParams(List<RunData> runs)
    {
        var keys = new List<string>();
        foreach (var r in runs)
            foreach (var k in r.Params.Keys)
                if (!keys.Contains(k) && runs.Select(x => x.Params.GetValueOrDefault(k)).Distinct().Count() > 1) keys.Add(k);
        return keys;
    }

    static List<string> VaryingConfig(List<RunData> runs)
    {
        if (runs.Count < 2) return [];
        var all = runs.Select(ConfigScalars).ToList();
        var keys = new List<string>();
        foreach (var k in all[0].Keys)
            if (!NotAxes.Contains(k) && all.Select(c => c.GetValueOrDefault(k)).Distinct().Count() > 1) keys.Add(k);
        return keys;
    }

    /// <summary>The scalar values of a run's config, as text (numbers as JSON writes them).</summary>
    public static Dictionary<string, string> ConfigScalars(RunData run)
    {
        var result = new Dictionary<string, string>();
        using var doc = JsonDocument.Parse(run.ConfigJson);
        if (doc.RootElement.ValueKind != JsonValueKind.Object) return result;
        foreach (var p in doc.RootElement.EnumerateObject())
            if (p.Value.ValueKind is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False)
                result[p.Name] = p.Value.GetRawText();
            else if (p.Value.ValueKind == JsonValueKind.String) result[p.Name] = p.Value.GetString()!;
        return result;
    }
}
