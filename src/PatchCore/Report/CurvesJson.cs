using System.Text.Json;
using System.Text.Json.Nodes;
using PatchCore.IO;
using PatchCore.Metrics;

namespace PatchCore.Report;

/// <summary>
/// curves.json of a run folder, for plots and users' own analysis:
/// <c>{"image": {"roc": {"fpr", "tpr", "thresholds"}, "pr": {"recall", "precision", "thresholds"}},
/// "pixel": {"roc": …, "pr": …}, "pro": {"fpr", "pro"}}</c>; "pixel" and "pro" only with masks. Rates are
/// fractions rounded to 6 digits; thresholds are the scores themselves (float, shortest round-trip form), the
/// first one just above the highest score. Each curve holds at most <see cref="Curve.MaxWrittenPoints"/> points
/// (both ends kept). The PRO curve stops at FPR 0.3, the AUPRO's limit.
/// </summary>
public static class CurvesJson
{
    public static JsonObject ToJson(EvaluationCurves c)
    {
        var json = new JsonObject { ["image"] = new JsonObject { ["roc"] = Roc(c.ImageRoc), ["pr"] = Pr(c.ImagePr) } };
        if (c.PixelRoc != null && c.PixelPr != null)
            json["pixel"] = new JsonObject { ["roc"] = Roc(c.PixelRoc), ["pr"] = Pr(c.PixelPr) };
        if (c.Pro != null) json["pro"] = new JsonObject { ["fpr"] = Rates(c.Pro.Fpr), ["pro"] = Rates(c.Pro.Pro) };
        return json;
    }

    public static void Write(string path, EvaluationCurves c) =>
        AtomicFile.WriteAllText(path, ToJson(c).ToJsonString(new JsonSerializerOptions { WriteIndented = false }) + "\n");

    static JsonObject Roc(RocCurve r) => new()
    {
        ["fpr"] = Rates(r.Fpr), ["tpr"] = Rates(r.Tpr), ["thresholds"] = Scores(r.Thresholds),
    };

    static JsonObject Pr(PrCurve p) => new()
    {
        ["recall"] = Rates(p.Recall), ["precision"] = Rates(p.Precision), ["thresholds"] = Scores(p.Thresholds),
    };

    static JsonArray Rates(double[] v)
    {
        var a = new JsonArray();
        foreach (double x in v) a.Add(Math.Round(x, 6));
        return a;
    }

    static JsonArray Scores(float[] v)
    {
        var a = new JsonArray();
        foreach (float x in v) a.Add(x);
        return a;
    }
}
