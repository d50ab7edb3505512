using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PatchCore.Weights;

/// <summary>
/// <see cref="WeightMetadata"/> as the safetensors "__metadata__" string map. Scalars are plain strings
/// ("basic", "255"), arrays are JSON arrays ("[2,2,2,3]"), and the geometry is one JSON object
/// {"conv1": {"stride": 2, "pads": [3,3,2,2]}, "maxpool": ...} with pads in the order top, left, bottom, right.
/// </summary>
public static class WeightMetadataCodec
{
    public const string FormatKey = "format";
    public const string FormatValue = "pcnative-weights-1";
    public static readonly string[] RequiredKeys =
        ["architecture", "block", "blocks_per_stage", "stage_widths", "channel_order", "pixel_scale", "mean", "std"];

    public static Dictionary<string, string> ToStrings(WeightMetadata m)
    {
        var geometry = new JsonObject();
        foreach (var key in m.Geometry.Keys.Order(StringComparer.Ordinal))
        {
            var g = m.Geometry[key];
            geometry[key] = new JsonObject
            {
                ["stride"] = g.Stride,
                ["pads"] = new JsonArray(g.PadTop, g.PadLeft, g.PadBottom, g.PadRight),
            };
        }
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [FormatKey] = FormatValue,
            ["architecture"] = m.Architecture,
            ["block"] = m.Block,
            ["blocks_per_stage"] = JsonSerializer.Serialize(m.BlocksPerStage),
            ["stage_widths"] = JsonSerializer.Serialize(m.StageWidths),
            ["channel_order"] = m.ChannelOrder,
            ["pixel_scale"] = F(m.PixelScale),
            ["mean"] = "[" + string.Join(",", m.Mean.Select(F)) + "]",
            ["std"] = "[" + string.Join(",", m.Std.Select(F)) + "]",
            ["batchnorm_epsilon"] = F(m.BatchNormEpsilon),
            ["geometry"] = geometry.ToJsonString(),
            ["source"] = m.Source,
        };
    }

    static string F(float v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Parse; a missing required key or a malformed value is an InvalidDataException naming the file.</summary>
    public static WeightMetadata FromStrings(IReadOnlyDictionary<string, string> d, string file)
    {
        InvalidDataException Bad(string p) => new($"{file}: weight metadata: {p}");
        foreach (var k in RequiredKeys)
            if (!d.ContainsKey(k))
                throw Bad($"missing key '{k}' (not a pcnative weight file? convert it with 'pcnative convert')");
        try
        {
            var geometry = new Dictionary<string, LayerGeometry>(StringComparer.Ordinal);
            if (d.TryGetValue("geometry", out var gs) && gs.Length > 0)
            {
                var obj = JsonNode.Parse(gs) as JsonObject ?? throw Bad("geometry is not a JSON object");
                foreach (var (key, node) in obj)
                {
                    int stride = node?["stride"]?.GetValue<int>() ?? throw Bad($"geometry of '{key}' has no stride");
                    var pads = node["pads"]?.AsArray() ?? throw Bad($"geometry of '{key}' has no pads");
                    if (pads.Count != 4) throw Bad($"geometry of '{key}' needs 4 pads (top, left, bottom, right)");
                    int Pad(int i) => pads[i]?.GetValue<int>() ?? throw Bad($"geometry of '{key}' has a null pad");
                    geometry[key] = new LayerGeometry(stride, Pad(0), Pad(1), Pad(2), Pad(3));
                }
            }
            return new WeightMetadata
            {
                Architecture = d["architecture"],
                Block = d["block"],
                BlocksPerStage = Ints(d["blocks_per_stage"], "blocks_per_stage"),
                StageWidths = Ints(d["stage_widths"], "stage_widths"),
                ChannelOrder = d["channel_order"],
                PixelScale = Float(d["pixel_scale"], "pixel_scale"),
                Mean = Floats(d["mean"], "mean"),
                Std = Floats(d["std"], "std"),
                BatchNormEpsilon = d.TryGetValue("batchnorm_epsilon", out var e) ? Float(e, "batchnorm_epsilon") : 1e-5f,
                Geometry = geometry,
                Source = d.TryGetValue("source", out var s) ? s : "",
            };
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            throw Bad($"malformed value ({IO.ErrorText.OneLine(ex.Message, 300)})");
        }

        int[] Ints(string v, string key) =>
            JsonSerializer.Deserialize<int[]>(v) ?? throw Bad($"'{key}' is not a JSON array of integers");
        float[] Floats(string v, string key) =>
            JsonSerializer.Deserialize<float[]>(v) ?? throw Bad($"'{key}' is not a JSON array of numbers");
        float Float(string v, string key) =>
            float.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out float f) ? f : throw Bad($"'{key}' = '{v}' is not a number");
    }
}
