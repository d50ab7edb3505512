using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PatchCore.Data;
using PatchCore.FineTuning;
using PatchCore.Pipeline;

namespace PatchCore.Experiments;

/// <summary>One run of a sweep: a category and the settings it changes (in the file's order), its stable id
/// (the folder name under runs/, the same whichever shard runs it) and its full config. <paramref name="FineTune"/>:
/// the fine-tuning that comes first (its task is not "none"), else null (plain PatchCore on config.weights).</summary>
public sealed record SweepRun(int Index, string Id, string Category, IReadOnlyList<KeyValuePair<string, JsonNode?>> Params,
    PatchCoreConfig Config, FineTuneConfig? FineTune = null)
{
    /// <summary>The params without seed: runs that differ only by seed are one setting of the summary.</summary>
    public IEnumerable<KeyValuePair<string, JsonNode?>> SettingParams
    {
        get { foreach (var p in Params) if (p.Key != SweepPlan.SeedKey) yield return p; }
    }

    /// <summary>The setting a summary row stands for: category and params without seed.</summary>
    public string SettingKey
    {
        get
        {
            var sb = new StringBuilder(Category);
            foreach (var (k, v) in SettingParams) sb.Append('\n').Append(k).Append('=').Append(SweepPlan.Display(v));
            return sb.ToString();
        }
    }

    /// <summary>params.json: <c>{"category": …, "params": {key: value}}</c>.</summary>
    public JsonObject ParamsJson()
    {
        var p = new JsonObject();
        foreach (var (k, v) in Params) p[k] = v?.DeepClone();
        return new JsonObject { ["category"] = Category, ["params"] = p };
    }
}

/// <summary>
/// A sweep file read, checked and expanded: runs = categories × (the product of "grid" followed by the explicit
/// "runs" list; one run of the defaults when neither is given). The keys are <c>run</c>'s config keys
/// (<see cref="PatchCoreConfig"/>'s JSON names, as in <c>--config</c>); every run's config is built and validated
/// here, so a typo fails in a second with one line naming the file, before any compute. Beside them, the
/// fine-tuning keys of <c>pcnative finetune</c> (<see cref="FineTuneConfig"/>'s JSON names, e.g. <c>task</c>,
/// <c>epochs</c>, <c>learning-rate</c>): a run whose <c>task</c> is not <c>none</c> (the default) fine-tunes the
/// backbone first (see <see cref="SweepRunner"/>). The keys both configs have (seed, resize, crop) are the run's:
/// fine-tuning uses the run's seed and image size.
/// <code>{"categories": ["transistor"], "data_root": "…", "config": {…base…},
///  "grid": {"coreset": [0.01, 0.1], "seed": [0, 1, 2]}, "runs": [{"k": 3}]}</code>
/// Run order: category-major, then grid rows (the last grid key varies fastest), then the "runs" list.
/// </summary>
public sealed class SweepPlan
{
    public const string SeedKey = "seed";
    /// <summary>Longest run id kept as is; a longer one is cut and ends in a hash of the whole (folder names ≤ 255 bytes).</summary>
    const int MaxIdLength = 160;

    static readonly HashSet<string> TopKeys = ["categories", "data_root", "config", "grid", "runs"];

    /// <summary>The fine-tuning key that picks the task; its value "none" (the default) means plain PatchCore.</summary>
    public const string TaskKey = "task";
    public const string NoTask = "none";

    /// <summary>The text of the file as read (copied into the sweep folder as sweep.json).</summary>
    public string Text { get; }
    public string Source { get; }
    /// <summary>The data root: the file's "data_root" (relative to the working folder), else the given default.</summary>
    public string DataRoot { get; }
    public IReadOnlyList<string> Categories { get; }
    public IReadOnlyList<SweepRun> Runs { get; }

    SweepPlan(string text, string source, string dataRoot, List<string> categories, List<SweepRun> runs)
    {
        Text = text; Source = source; DataRoot = dataRoot; Categories = categories; Runs = runs;
    }

    public static SweepPlan Load(string path, PatchCoreConfig baseConfig, string? dataRootDefault = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"sweep file not found: {path}");
        return Parse(File.ReadAllText(path), path, baseConfig, dataRootDefault);
    }

    /// <param name="baseConfig">the settings every run starts from (defaults, --config, flags); the file's
    /// "config" object and then each run's params override it.</param>
    public static SweepPlan Parse(string text, string source, PatchCoreConfig baseConfig, string? dataRootDefault = null)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
                ?? throw new InvalidDataException($"{source}: a sweep file is one JSON object ({{\"categories\": […], \"grid\": {{…}}}})");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON: {IO.ErrorText.OneLine(e.Message, 200)}");
        }
        foreach (var (k, _) in root)
            if (!TopKeys.Contains(k))
                throw new InvalidDataException($"{source}: unknown key '{k}' (a sweep file has {string.Join(", ", TopKeys)})");

        string? fileRoot = root["data_root"] switch
        {
            null => null,
            JsonValue v when v.TryGetValue(out string? s) && !string.IsNullOrWhiteSpace(s) => s,
            _ => throw new InvalidDataException($"{source}: \"data_root\" must be a folder name"),
        };
        string dataRoot = MvtecDataset.ResolveRoot(fileRoot ?? dataRootDefault);
        var categories = ReadCategories(root["categories"], source, dataRoot);

        var known = ConfigKeys();
        var fineTuneKeys = FineTuneKeys();
        var baseJson = JsonSerializer.SerializeToNode(baseConfig, PatchCoreConfig.Json)!.AsObject();
        var baseFineTune = new JsonObject();
        if (root["config"] is { } cfg)
        {
            if (cfg is not JsonObject co) throw new InvalidDataException($"{source}: \"config\" must be an object of config keys");
            foreach (var (k, v) in co)
            {
                CheckKey(k, known, source, "config");
                if (known.Contains(k)) baseJson[k] = v?.DeepClone();
                else baseFineTune[k] = v?.DeepClone();
            }
        }

        var settings = new List<List<KeyValuePair<string, JsonNode?>>>();
        if (root["grid"] is { } g) settings.AddRange(ExpandGrid(g, known, source));
        if (root["runs"] is { } r)
        {
            if (r is not JsonArray list) throw new InvalidDataException($"{source}: \"runs\" must be a list of objects of config keys");
            for (int i = 0; i < list.Count; i++)
            {
                if (list[i] is not JsonObject o) throw new InvalidDataException($"{source}: runs[{i}] must be an object of config keys");
                var s = new List<KeyValuePair<string, JsonNode?>>();
                foreach (var (k, v) in o)
                {
                    CheckKey(k, known, source, $"runs[{i}]");
                    CheckValue(v, source, $"runs[{i}].{k}");
                    s.Add(new(k, v));
                }
                settings.Add(s);
            }
        }
        if (root["grid"] == null && root["runs"] == null) settings.Add([]);

        var runs = new List<SweepRun>();
        var ids = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (string category in categories)
            foreach (var s in settings)
            {
                string id = RunId(category, s);
                var json = (JsonObject)baseJson.DeepClone();
                var ftJson = (JsonObject)baseFineTune.DeepClone();
                foreach (var (k, v) in s)
                    if (known.Contains(k)) json[k] = v?.DeepClone();
                    else ftJson[k] = v?.DeepClone();
                PatchCoreConfig config;
                try { config = PatchCoreConfig.FromJson(json.ToJsonString(), $"{source}: run {id}").Validate(); }
                catch (ArgumentException e) { throw new InvalidDataException($"{source}: run {id}: {e.Message.Replace("config: ", "", StringComparison.Ordinal)}"); }
                var fineTune = FineTuneOf(ftJson, config, source, id);
                if (ids.TryGetValue(id, out int other))
                    throw new InvalidDataException($"{source}: run {id} appears twice (runs {other} and {runs.Count}); every setting must differ");
                ids[id] = runs.Count;
                runs.Add(new SweepRun(runs.Count, id, category, s, config, fineTune));
            }
        return new SweepPlan(text, source, dataRoot, categories, runs);
    }

    /// <summary>Part <paramref name="k"/> of <paramref name="n"/>: the runs whose index is k mod n. Parts are
    /// disjoint, together they are every run, and each is a fair mix of settings (not one category per part).</summary>
    public IReadOnlyList<SweepRun> Shard(int k, int n)
    {
        if (n < 1 || k < 0 || k >= n) throw new ArgumentException($"shard {k}/{n}: need 0 <= K < N");
        var part = new List<SweepRun>();
        foreach (var r in Runs) if (r.Index % n == k) part.Add(r);
        return part;
    }

    /// <summary>"K/N" (as Slurm's array index K of N tasks) → (K, N), or one line saying what is wrong.</summary>
    public static (int K, int N) ParseShard(string text, string flag = "--shard")
    {
        var parts = text.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int k)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            throw new ArgumentException($"{flag} '{text}': expected K/N, part K (0 … N-1) of N, e.g. 0/4");
        if (n < 1 || k >= n) throw new ArgumentException($"{flag} '{text}': K must be between 0 and N-1 = {n - 1}");
        return (k, n);
    }

    /// <summary>A value as a summary cell and in run ids: numbers as written, strings bare, lists joined by '+'.</summary>
    public static string Display(JsonNode? v) => v switch
    {
        null => "null",
        JsonArray a => string.Join("+", a.Select(Display)),
        JsonValue s when s.GetValueKind() == JsonValueKind.String => s.GetValue<string>(),
        _ => v.ToJsonString(),
    };

    static string RunId(string category, List<KeyValuePair<string, JsonNode?>> s)
    {
        var sb = new StringBuilder(category);
        foreach (var (k, v) in s) sb.Append("__").Append(k).Append('=').Append(Display(v));
        var id = new StringBuilder(sb.Length);
        foreach (char c in sb.ToString()) id.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '=' or '+' or '-' ? c : '_');
        string r = id.ToString();
        if (r.StartsWith('.')) r = "_" + r[1..]; // never a hidden folder
        if (r.Length <= MaxIdLength) return r;
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())))[..12];
        return r[..(MaxIdLength - 14)] + "__" + hash;
    }

    static List<string> ReadCategories(JsonNode? node, string source, string dataRoot)
    {
        var list = new List<string>();
        if (node is JsonValue v && v.TryGetValue(out string? s) && s == "all")
        {
            list = MvtecDataset.FindCategories(dataRoot);
            if (list.Count == 0) throw new InvalidDataException($"{source}: \"categories\": \"all\" but no category folder (with train/good) under {dataRoot}");
            return list;
        }
        if (node is not JsonArray a || a.Count == 0)
            throw new InvalidDataException($"{source}: \"categories\" must be a non-empty list of category names, or \"all\"");
        foreach (var c in a)
        {
            if (c is not JsonValue cv || !cv.TryGetValue(out string? name) || string.IsNullOrWhiteSpace(name)
                || name.IndexOfAny(['/', '\\']) >= 0 || name is "." or "..")
                throw new InvalidDataException($"{source}: \"categories\" entry {c?.ToJsonString() ?? "null"} is not a category name");
            if (list.Contains(name)) throw new InvalidDataException($"{source}: category '{name}' is listed twice");
            list.Add(name);
        }
        return list;
    }

    static List<List<KeyValuePair<string, JsonNode?>>> ExpandGrid(JsonNode g, HashSet<string> known, string source)
    {
        if (g is not JsonObject grid) throw new InvalidDataException($"{source}: \"grid\" must be an object: config key → list of values");
        var rows = new List<List<KeyValuePair<string, JsonNode?>>> { new() };
        foreach (var (k, values) in grid)
        {
            CheckKey(k, known, source, "grid");
            if (values is not JsonArray list || list.Count == 0)
                throw new InvalidDataException($"{source}: grid.{k} must be a non-empty list of values");
            var next = new List<List<KeyValuePair<string, JsonNode?>>>(rows.Count * list.Count);
            foreach (var row in rows)
                foreach (var v in list)
                {
                    CheckValue(v, source, $"grid.{k}");
                    next.Add([.. row, new(k, v)]);
                }
            rows = next;
        }
        return rows;
    }

    static void CheckValue(JsonNode? v, string source, string where)
    {
        if (v is JsonObject) throw new InvalidDataException($"{source}: {where}: a value must be a number, string, boolean or list, not an object");
    }

    /// <summary>A run's fine-tuning config, or null when its task is "none" (the default). The values are checked
    /// here (types for every run, ranges for the runs that fine-tune); seed, resize and crop are the run's.</summary>
    static FineTuneConfig? FineTuneOf(JsonObject ft, PatchCoreConfig config, string source, string id)
    {
        if (ft.Count == 0) return null;
        string task = NoTask;
        if (ft[TaskKey] is { } t)
        {
            if (t is not JsonValue tv || !tv.TryGetValue(out string? name) || string.IsNullOrWhiteSpace(name))
                throw new InvalidDataException($"{source}: run {id}: task {t.ToJsonString()}: must be {NoTask} or a fine-tuning task (rotation, contrastive)");
            task = name;
        }
        ft[TaskKey] = task == NoTask ? new FineTuneConfig().Task : task; // "none" is the sweep's word, not FineTuneConfig's
        ft["seed"] = config.Seed;
        ft["resize"] = config.Resize;
        ft["crop"] = config.Crop;
        var c = FineTuneConfig.FromJson(ft.ToJsonString(), $"{source}: run {id}");
        if (task == NoTask) return null;
        try { c.Validate(); }
        catch (ArgumentException e) { throw new InvalidDataException($"{source}: run {id}: {e.Message.TrimStart('-')}"); }
        return c;
    }

    static void CheckKey(string key, HashSet<string> known, string source, string where)
    {
        if (known.Contains(key) || FineTuneKeys().Contains(key)) return;
        throw new InvalidDataException($"{source}: {where}: unknown config key '{key}' (keys are run's --config keys: {string.Join(", ", known.Order(StringComparer.Ordinal))}; "
            + $"and the fine-tuning keys of finetune --config: {string.Join(", ", FineTuneKeys().Order(StringComparer.Ordinal))})");
    }

    /// <summary>The fine-tuning keys a sweep takes: FineTuneConfig's JSON names (= pcnative finetune's flag names)
    /// that are not config keys (seed, resize and crop are run's and are passed on to the fine-tuning).</summary>
    public static HashSet<string> FineTuneKeys()
    {
        var run = ConfigKeys();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (k, _) in JsonNode.Parse(new FineTuneConfig().ToJson())!.AsObject()) if (!run.Contains(k)) keys.Add(k);
        return keys;
    }

    /// <summary>The config keys: PatchCoreConfig's JSON property names.</summary>
    public static HashSet<string> ConfigKeys()
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (k, _) in JsonSerializer.SerializeToNode(new PatchCoreConfig(), PatchCoreConfig.Json)!.AsObject()) keys.Add(k);
        return keys;
    }
}
