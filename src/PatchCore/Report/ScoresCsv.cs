using System.Globalization;
using System.Text;
using PatchCore.IO;

namespace PatchCore.Report;

/// <summary>One row of scores.csv. <see cref="Anomalous"/> is the model's decision (null without a calibration);
/// <see cref="Truth"/> the ground truth of a labelled set (null when unknown).</summary>
public sealed record ScoreRow(string Path, float Score, double? Normalized, bool? Anomalous)
{
    public string DefectType { get; init; } = "";
    public int? Truth { get; init; }
    /// <summary>The heat-map PNG relative to the output folder ("" when none was written).</summary>
    public string Heatmap { get; init; } = "";
}

/// <summary>
/// scores.csv: one row per image. <c>label</c> is always the decision (1 = anomalous, 0 = good, empty when the
/// model is uncalibrated), never the ground truth, which a labelled run writes as <c>truth</c>:
/// run/evaluate <c>path,defect_type,truth,score,normalized_score,label</c>; predict
/// <c>path,score,normalized_score,label,heatmap</c> (heatmap names each row's picture). Scores in round-trip form
/// ("R"), so the file reproduces the floats exactly.
/// </summary>
public static class ScoresCsv
{
    public const string LabelledHeader = "path,defect_type,truth,score,normalized_score,label";
    public const string PredictHeader = "path,score,normalized_score,label,heatmap";

    /// <summary>A labelled set (run, evaluate).</summary>
    public static void WriteLabelled(string path, IReadOnlyList<ScoreRow> rows)
    {
        var sb = new StringBuilder(LabelledHeader).Append('\n');
        foreach (var r in rows)
        {
            sb.Append(Csv(r.Path)).Append(',').Append(Csv(r.DefectType)).Append(',');
            if (r.Truth is int t) sb.Append(t);
            sb.Append(',');
            AppendScoreAndDecision(sb, r);
            sb.Append('\n');
        }
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    /// <summary>Unlabelled images (predict).</summary>
    public static void WritePredict(string path, IReadOnlyList<ScoreRow> rows)
    {
        var sb = new StringBuilder(PredictHeader).Append('\n');
        foreach (var r in rows)
        {
            sb.Append(Csv(r.Path)).Append(',');
            AppendScoreAndDecision(sb, r);
            sb.Append(',').Append(Csv(r.Heatmap)).Append('\n');
        }
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    /// <summary>errors.csv of predict: <c>path,error</c>, one line per image that could not be scored.</summary>
    public static void WriteErrors(string path, IReadOnlyList<(string Path, string Error)> errors)
    {
        var sb = new StringBuilder("path,error\n");
        foreach (var (p, e) in errors) sb.Append(Csv(p)).Append(',').Append(Csv(e)).Append('\n');
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    static void AppendScoreAndDecision(StringBuilder sb, ScoreRow r)
    {
        sb.Append(r.Score.ToString("R", CultureInfo.InvariantCulture)).Append(',');
        if (r.Normalized is double n) sb.Append(n.ToString("0.######", CultureInfo.InvariantCulture));
        sb.Append(',');
        if (r.Anomalous is bool a) sb.Append(a ? '1' : '0');
    }

    /// <summary>Quote a field only when it needs it (RFC 4180).</summary>
    static string Csv(string s) => s.IndexOfAny([',', '"', '\n', '\r']) < 0 ? s : "\"" + s.Replace("\"", "\"\"") + "\"";
}
