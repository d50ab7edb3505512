namespace PatchCore.IO;

/// <summary>Text from a file (a name, a JSON snippet, a decoder's message) made fit for a one-line error: the CLI
/// prints "pcnative: error: ..." and a hostile file must not be able to add lines, NUL bytes or pages of text.</summary>
public static class ErrorText
{
    public static string OneLine(string? text, int maxLength = 160)
    {
        if (string.IsNullOrEmpty(text)) return "corrupt data";
        var sb = new System.Text.StringBuilder(Math.Min(text.Length, maxLength + 3));
        bool space = false;
        foreach (char c in text)
        {
            if (sb.Length >= maxLength) { sb.Append("..."); break; }
            // Control characters (newlines, NUL, escapes) become one space; runs of them collapse.
            if (char.IsControl(c) || c == '\uFFFD') { if (!space && sb.Length > 0) sb.Append(' '); space = true; continue; }
            sb.Append(c);
            space = false;
        }
        string s = sb.ToString().Trim();
        return s.Length == 0 ? "corrupt data" : s;
    }
}
