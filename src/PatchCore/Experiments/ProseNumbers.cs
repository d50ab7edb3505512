using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace PatchCore.Experiments;

/// <summary>
/// Fills the numbers of hand-written prose from sweep summaries, so that every number in a report comes from the
/// runs. A placeholder <c>{{SWEEP:CATEGORY[:KEY=VALUE,…]:COLUMN}}</c> becomes the cell of COLUMN in the one row of
/// <c>SWEEPS/SWEEP/summary.csv</c> whose <c>category</c> is CATEGORY and whose swept parameters equal the
/// KEY=VALUE pairs (numbers compared as numbers: <c>coreset=0.1</c> matches a cell "0.1" or "0.10").
/// <c>SWEEP/finetune-epochs</c> reads the sweep's fine-tuning curves instead (<see cref="FineTuneCurves"/>: one row
/// per setting and <c>epoch</c>). A placeholder
/// that names no file, no column, no row or more than one row is an error naming the template's line; nothing is
/// guessed.
/// </summary>
public static class ProseNumbers
{
    static readonly Regex Placeholder = new(@"\{\{([^{}]+)\}\}", RegexOptions.CultureInvariant);

    /// <summary>The template with every placeholder replaced. <paramref name="templateName"/> names the template in
    /// errors; <paramref name="sweepsRoot"/> holds one folder per sweep.</summary>
    public static string Fill(string template, string templateName, string sweepsRoot)
    {
        var tables = new Dictionary<string, SummaryTable>(StringComparer.Ordinal);
        var output = new StringBuilder(template.Length);
        string[] lines = template.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            output.Append(Placeholder.Replace(line, m => Value(m.Groups[1].Value, $"{templateName}:{i + 1}", sweepsRoot, tables)));
            if (i < lines.Length - 1) output.Append('\n');
        }
        return output.ToString();
    }

    /// <summary>The placeholders a template names, in order (for listing what a template needs).</summary>
    public static IReadOnlyList<string> Names(string template)
    {
        var names = new List<string>();
        foreach (Match m in Placeholder.Matches(template)) names.Add(m.Groups[1].Value);
        return names;
    }

    static string Value(string spec, string where, string root, Dictionary<string, SummaryTable> tables)
    {
        string[] parts = spec.Split(':');
        if (parts.Length is < 3 or > 4)
            throw new InvalidDataException($"{where}: placeholder {{{{{spec}}}}} must be SWEEP:CATEGORY[:KEY=VALUE,...]:COLUMN");
        string sweep = parts[0].Trim(), category = parts[1].Trim(), column = parts[^1].Trim();
        var wanted = new List<(string Key, string Value)>();
        if (parts.Length == 4)
            foreach (string pair in parts[2].Split(','))
            {
                int eq = pair.IndexOf('=');
                if (eq <= 0) throw new InvalidDataException($"{where}: '{pair}' in {{{{{spec}}}}} is not KEY=VALUE");
                wanted.Add((pair[..eq].Trim(), pair[(eq + 1)..].Trim()));
            }
        string tableName = "summary";
        int slash = sweep.IndexOf('/');
        if (slash >= 0)
        {
            tableName = sweep[(slash + 1)..];
            sweep = sweep[..slash];
        }
        if (sweep.Length == 0 || sweep.Contains('\\') || sweep == "..")
            throw new InvalidDataException($"{where}: '{sweep}' in {{{{{spec}}}}} is not a sweep folder name");
        if (tableName != "summary" && tableName != FineTuneCurves.Table)
            throw new InvalidDataException($"{where}: '{tableName}' in {{{{{spec}}}}} is not a table of a sweep (SWEEP or SWEEP/{FineTuneCurves.Table})");
        if (!tables.TryGetValue(sweep + "/" + tableName, out var table))
        {
            string path = Path.Combine(root, sweep, tableName + ".csv");
            if (!File.Exists(path))
                throw new InvalidDataException($"{where}: {{{{{spec}}}}} needs {path}, which does not exist (run the sweep first)");
            table = SummaryTable.Read(path);
            tables[sweep + "/" + tableName] = table;
        }
        return table.Cell(category, wanted, column, $"{where}: {{{{{spec}}}}}");
    }

    /// <summary>A summary.csv: header and rows of plain cells (the summaries never quote: no commas in cells).</summary>
    sealed class SummaryTable
    {
        public required string Path { get; init; }
        public required string[] Header { get; init; }
        public required List<string[]> Rows { get; init; }

        public static SummaryTable Read(string path)
        {
            string[] lines = File.ReadAllLines(path);
            if (lines.Length == 0) throw new InvalidDataException($"{path}: empty summary");
            string[] header = lines[0].Split(',');
            if (Array.IndexOf(header, "category") < 0) throw new InvalidDataException($"{path}: no 'category' column");
            var rows = new List<string[]>();
            for (int i = 1; i < lines.Length; i++)
            {
                if (lines[i].Length == 0) continue;
                string[] cells = lines[i].Split(',');
                if (cells.Length != header.Length)
                    throw new InvalidDataException($"{path}:{i + 1}: {cells.Length} cells for {header.Length} columns");
                rows.Add(cells);
            }
            return new SummaryTable { Path = path, Header = header, Rows = rows };
        }

        public string Cell(string category, List<(string Key, string Value)> wanted, string column, string what)
        {
            int c = Array.IndexOf(Header, column);
            if (c < 0) throw new InvalidDataException($"{what}: {Path} has no column '{column}' (columns: {string.Join(", ", Header)})");
            int cat = Array.IndexOf(Header, "category");
            var keys = new int[wanted.Count];
            for (int k = 0; k < wanted.Count; k++)
            {
                keys[k] = Array.IndexOf(Header, wanted[k].Key);
                if (keys[k] < 0) throw new InvalidDataException($"{what}: {Path} has no parameter column '{wanted[k].Key}'");
            }
            string[]? found = null;
            int matches = 0;
            foreach (string[] row in Rows)
            {
                if (row[cat] != category) continue;
                bool all = true;
                for (int k = 0; k < keys.Length && all; k++) all = SameValue(row[keys[k]], wanted[k].Value);
                if (!all) continue;
                found = row;
                matches++;
            }
            if (matches == 0) throw new InvalidDataException($"{what}: no row of {Path} matches");
            if (matches > 1) throw new InvalidDataException($"{what}: {matches} rows of {Path} match; name the parameters that tell them apart");
            if (found![c].Length == 0) throw new InvalidDataException($"{what}: the cell is empty in {Path} (e.g. a standard deviation of one seed)");
            return found[c];
        }

        static bool SameValue(string cell, string wanted)
        {
            if (cell == wanted) return true;
            return double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double a)
                && double.TryParse(wanted, NumberStyles.Float, CultureInfo.InvariantCulture, out double b)
                && a == b;
        }
    }
}
