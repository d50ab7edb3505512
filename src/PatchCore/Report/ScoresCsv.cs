using System.Globalization;
using System.Text;
using PatchCore.IO;

namespace PatchCore.Report;

/// <summary>scores.csv: one row per image, <c>path,label,score</c> (a run, labels known) or <c>path,score</c>
/// (predict). Scores in round-trip form ("R"), so the file reproduces the floats exactly.</summary>
public static class ScoresCsv
{
    /// <param name="labels">per image 0/1, or null to leave the label column out.</param>
    public static void Write(string path, IReadOnlyList<string> names, IReadOnlyList<int>? labels, IReadOnlyList<float> scores)
    {
        var sb = new StringBuilder(labels != null ? "path,label,score\n" : "path,score\n");
        for (int i = 0; i < names.Count; i++)
        {
            sb.Append(Csv(names[i])).Append(',');
            if (labels != null) sb.Append(labels[i]).Append(',');
            sb.Append(scores[i].ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        }
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    /// <summary>Quote a field only when it needs it (RFC 4180).</summary>
    static string Csv(string s) => s.IndexOfAny([',', '"', '\n']) < 0 ? s : "\"" + s.Replace("\"", "\"\"") + "\"";
}
