using System.Globalization;
using System.Text.Json;

namespace PatchCore.ReportDocument.Inputs;

/// <summary>
/// Reads a run folder as `pcnative run` / `evaluate` / a sweep write it: results.json (required), scores.csv,
/// curves.json and params.json (each optional). A file that is present but unreadable is an
/// <see cref="InvalidDataException"/> naming the file, so a report never silently drops numbers.
/// </summary>
public static class RunFolderReader
{
    public const string ResultsFile = "results.json";

    public static bool IsRunFolder(string dir) => File.Exists(Path.Combine(dir, ResultsFile));

    public static RunData Read(string dir, string id)
    {
        string resultsPath = Path.Combine(dir, ResultsFile);
        using var doc = ParseJson(resultsPath);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{resultsPath}: not a JSON object");

        var metrics = new Dictionary<string, double>();
        var perType = new List<DefectTypeMetrics>();
        if (root.TryGetProperty("metrics", out var m) && m.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in m.EnumerateObject())
            {
                if (p.Value.ValueKind == JsonValueKind.Number) metrics[p.Name] = p.Value.GetDouble();
                if (p.Name != "per_defect_type" || p.Value.ValueKind != JsonValueKind.Object) continue;
                foreach (var t in p.Value.EnumerateObject())
                {
                    int n = Int(t.Value, "n") ?? 0;
                    perType.Add(new DefectTypeMetrics(t.Name, n,
                        Number(t.Value, "image_auroc"), Number(t.Value, "pixel_auroc"), Number(t.Value, "aupro")));
                }
            }
        }

        var timings = new List<KeyValuePair<string, double>>();
        if (root.TryGetProperty("timings_s", out var ts) && ts.ValueKind == JsonValueKind.Object)
            foreach (var p in ts.EnumerateObject())
                if (p.Value.ValueKind == JsonValueKind.Number) timings.Add(new(p.Name, p.Value.GetDouble()));

        double? threshold = null;
        if (root.TryGetProperty("calibration", out var cal) && cal.ValueKind == JsonValueKind.Object
            && cal.TryGetProperty("image", out var img) && img.ValueKind == JsonValueKind.Object)
            threshold = Number(img, "threshold");

        string config = root.TryGetProperty("config", out var c)
            ? JsonSerializer.Serialize(c, new JsonSerializerOptions { WriteIndented = true })
            : "{}";

        string scoresPath = Path.Combine(dir, "scores.csv");
        var scores = File.Exists(scoresPath) ? ReadScores(scoresPath) : new List<ScoreRow>();
        string curvesPath = Path.Combine(dir, "curves.json");
        var curves = File.Exists(curvesPath) ? ReadCurves(curvesPath) : CurveMath.FromScores(scores);

        return new RunData(dir, id,
            String(root, "category") ?? "?", String(root, "backend") ?? "?",
            metrics, perType, timings, threshold, config, ReadParams(Path.Combine(dir, "params.json")), scores, curves,
            Int(root, "n_train"), Int(root, "n_test"), Int(root, "bank_size"),
            ReadFineTuning(Path.Combine(dir, "finetune.json")));
    }

    /// <summary>finetune.json of a sweep run that fine-tuned its backbone: {"epochs": [{"Epoch", "TrainLoss",
    /// "HeldOutLoss", "HeldOutAccuracy", …}]} (NaN written as "NaN"); null when the run did not fine-tune.</summary>
    static List<FineTuneEpoch>? ReadFineTuning(string path)
    {
        if (!File.Exists(path)) return null;
        using var doc = ParseJson(path);
        if (!doc.RootElement.TryGetProperty("epochs", out var epochs) || epochs.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{path}: no \"epochs\" list");
        var list = new List<FineTuneEpoch>();
        foreach (var e in epochs.EnumerateArray())
        {
            int epoch = Int(e, "Epoch") ?? throw new InvalidDataException($"{path}: an epoch without \"Epoch\"");
            // "NaN" (a string) at epoch 0, before any training step: no training loss.
            if (!e.TryGetProperty("TrainLoss", out _)) throw new InvalidDataException($"{path}: epoch {epoch} has no TrainLoss");
            list.Add(new FineTuneEpoch(epoch, Number(e, "TrainLoss"), Number(e, "HeldOutLoss"), Number(e, "HeldOutAccuracy")));
        }
        return list;
    }

    /// <summary>params.json of a sweep run: {"category": …, "params": {key: value}}; values kept as text.</summary>
    static Dictionary<string, string> ReadParams(string path)
    {
        var result = new Dictionary<string, string>();
        if (!File.Exists(path)) return result;
        using var doc = ParseJson(path);
        if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("params", out var p)
            && p.ValueKind == JsonValueKind.Object)
        {
            foreach (var kv in p.EnumerateObject())
            {
                string text = kv.Value.ValueKind == JsonValueKind.String ? kv.Value.GetString() ?? "" : kv.Value.GetRawText();
                result[kv.Name] = text;
            }
        }
        return result;
    }

    /// <summary>scores.csv: path,defect_type,truth,score,normalized_score,label (columns found by name).</summary>
    public static List<ScoreRow> ReadScores(string path)
    {
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0) throw new InvalidDataException($"{path}: empty (no header)");
        var header = lines[0].Split(',');
        int iPath = Array.IndexOf(header, "path"), iType = Array.IndexOf(header, "defect_type"),
            iTruth = Array.IndexOf(header, "truth"), iScore = Array.IndexOf(header, "score"), iLabel = Array.IndexOf(header, "label");
        if (iPath < 0 || iScore < 0)
            throw new InvalidDataException($"{path}: header has no 'path' or 'score' column");
        var rows = new List<ScoreRow>(lines.Length - 1);
        for (int i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            // Paths may not contain commas in our outputs, but the last columns are read from the right to be safe.
            var f = lines[i].Split(',');
            if (f.Length != header.Length)
                throw new InvalidDataException($"{path}: line {i + 1} has {f.Length} fields, the header {header.Length}");
            if (!double.TryParse(f[iScore], NumberStyles.Float, CultureInfo.InvariantCulture, out double score))
                throw new InvalidDataException($"{path}: line {i + 1}: score '{f[iScore]}' is not a number");
            int truth = iTruth >= 0 && f[iTruth] == "1" ? 1 : 0;
            int? label = iLabel >= 0 && f[iLabel].Length > 0 ? (f[iLabel] == "1" ? 1 : 0) : null;
            rows.Add(new ScoreRow(f[iPath], iType >= 0 ? f[iType] : "", truth, score, label));
        }
        return rows;
    }

    /// <summary>curves.json: {"image": {"roc": {fpr, tpr}, "pr": {recall, precision}}, "pixel": {…}, "pro": {fpr, pro}}.</summary>
    public static RunCurves ReadCurves(string path)
    {
        using var doc = ParseJson(path);
        var r = doc.RootElement;
        return new RunCurves(GetCurve(r, path, "image", "roc", "fpr", "tpr"), GetCurve(r, path, "image", "pr", "recall", "precision"),
            GetCurve(r, path, "pixel", "roc", "fpr", "tpr"), GetCurve(r, path, "pixel", "pr", "recall", "precision"),
            GetCurve(r, path, null, "pro", "fpr", "pro"), false);
    }

    static Curve? GetCurve(JsonElement root, string path, string? level, string name, string x, string y)
    {
        var e = root;
        if (e.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: not a JSON object");
        if (level != null && !(e.TryGetProperty(level, out e) && e.ValueKind == JsonValueKind.Object)) return null;
        if (!(e.TryGetProperty(name, out e) && e.ValueKind == JsonValueKind.Object)) return null;
        var xs = NumberArray(e, x, path);
        var ys = NumberArray(e, y, path);
        if (xs == null || ys == null) return null;
        if (xs.Length != ys.Length)
            throw new InvalidDataException($"{path}: {level}.{name}: {x} has {xs.Length} values, {y} {ys.Length}");
        return new Curve(xs, ys);
    }

    static double[]? NumberArray(JsonElement e, string name, string path)
    {
        if (!e.TryGetProperty(name, out var a) || a.ValueKind != JsonValueKind.Array) return null;
        var v = new double[a.GetArrayLength()];
        int i = 0;
        foreach (var x in a.EnumerateArray())
        {
            if (x.ValueKind != JsonValueKind.Number) throw new InvalidDataException($"{path}: '{name}' holds a non-number");
            v[i++] = x.GetDouble();
        }
        return v;
    }

    static JsonDocument ParseJson(string path)
    {
        try { return JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message.Split('\n')[0]})"); }
    }

    static double? Number(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    static int? Int(JsonElement e, string name) => Number(e, name) is double d ? (int)d : null;

    static string? String(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
