using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;

namespace PatchCore.ReportDocument.Inputs;

/// <summary>One published source's image AUROC (percent) per category ("mean" is the MVTec AD mean).</summary>
public sealed record PublishedRow(string Source, IReadOnlyDictionary<string, double> ImageAurocPercent);

/// <summary>
/// The published PatchCore numbers of ALGORITHM.md's "Numbers to compare with" section: the image AUROC table
/// (one row per source, one column per category) and the paper's mean pixel AUROC and PRO from the line under it.
/// A copy of that section is embedded (PublishedNumbers.md); `--published FILE` parses another file of the same form.
/// </summary>
public sealed partial record PublishedNumbers(IReadOnlyList<PublishedRow> Rows, double? PaperPixelAurocPercent, double? PaperProPercent, string SourceNote)
{
    public static PublishedNumbers Embedded()
    {
        using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream("PatchCore.ReportDocument.PublishedNumbers.md")
            ?? throw new InvalidOperationException("PublishedNumbers.md is not embedded");
        using var r = new StreamReader(s);
        return Parse(r.ReadToEnd(), "ALGORITHM.md (embedded copy)");
    }

    public static PublishedNumbers Parse(string markdown, string sourceNote)
    {
        var lines = markdown.Split('\n').Select(l => l.Trim()).ToArray();
        int start = Array.FindIndex(lines, l => l.StartsWith('#') && l.Contains("Numbers to compare with", StringComparison.OrdinalIgnoreCase));
        if (start < 0) throw new InvalidDataException($"{sourceNote}: no \"Numbers to compare with\" section");
        int i = start + 1;
        while (i < lines.Length && !lines[i].StartsWith('|')) i++;
        if (i >= lines.Length) throw new InvalidDataException($"{sourceNote}: no table under \"Numbers to compare with\"");
        var header = Cells(lines[i]);
        var rows = new List<PublishedRow>();
        for (i++; i < lines.Length && lines[i].StartsWith('|'); i++)
        {
            var cells = Cells(lines[i]);
            if (cells.All(c => c.Trim('-', ':').Length == 0)) continue; // the |---| rule
            var values = new Dictionary<string, double>();
            for (int c = 1; c < cells.Count && c < header.Count; c++)
                if (double.TryParse(cells[c], NumberStyles.Float, CultureInfo.InvariantCulture, out double v)) values[header[c]] = v;
            rows.Add(new PublishedRow(cells[0], values));
        }
        if (rows.Count == 0) throw new InvalidDataException($"{sourceNote}: the published-numbers table has no rows");
        string rest = string.Join("\n", lines.Skip(i).TakeWhile(l => !l.StartsWith('#')));
        var px = PixelLine().Match(rest);
        var pro = ProLine().Match(rest);
        return new PublishedNumbers(rows,
            px.Success ? double.Parse(px.Groups[1].Value, CultureInfo.InvariantCulture) : null,
            pro.Success ? double.Parse(pro.Groups[1].Value, CultureInfo.InvariantCulture) : null, sourceNote);
    }

    static List<string> Cells(string line) => line.Trim().Trim('|').Split('|').Select(c => c.Trim()).ToList();

    [GeneratedRegex(@"Pixel AUROC:\s*paper\s*([0-9]+(?:\.[0-9]+)?)", RegexOptions.IgnoreCase)]
    private static partial Regex PixelLine();

    [GeneratedRegex(@"PRO\s+([0-9]+(?:\.[0-9]+)?)")]
    private static partial Regex ProLine();
}
