using System.Text;

namespace PatchCore.Tests.Architecture;

/// <summary>C# source with comments and string/char literals blanked out (replaced by spaces, newlines kept),
/// so that a text search finds only code and line numbers still match the file. Not a parser: enough for
/// finding namespace uses, which is all the architecture tests need.</summary>
public static class CSharpCode
{
    public static string StripCommentsAndStrings(string src)
    {
        var sb = new StringBuilder(src.Length);
        int i = 0, n = src.Length;
        while (i < n)
        {
            char c = src[i];
            char next = i + 1 < n ? src[i + 1] : '\0';
            if (c == '/' && next == '/')
            {
                while (i < n && src[i] != '\n') { sb.Append(' '); i++; }
            }
            else if (c == '/' && next == '*')
            {
                sb.Append("  "); i += 2;
                while (i < n && !(src[i] == '*' && i + 1 < n && src[i + 1] == '/')) Blank(sb, src[i++]);
                if (i < n) { sb.Append("  "); i += 2; }
            }
            else if (c == '"' || ((c == '@' || c == '$') && (next == '"' || ((next == '@' || next == '$') && i + 2 < n && src[i + 2] == '"'))))
            {
                // Prefixes ($, @, $@, @$) stay as spaces; verbatim strings double their quotes instead of escaping.
                bool verbatim = false;
                while (src[i] != '"') { verbatim |= src[i] == '@'; sb.Append(' '); i++; }
                if (i + 2 < n && src[i + 1] == '"' && src[i + 2] == '"') { i = SkipRaw(src, i, sb); continue; }
                sb.Append(' '); i++;
                while (i < n)
                {
                    if (!verbatim && src[i] == '\\' && i + 1 < n) { sb.Append("  "); i += 2; continue; }
                    if (src[i] == '"')
                    {
                        if (verbatim && i + 1 < n && src[i + 1] == '"') { sb.Append("  "); i += 2; continue; }
                        sb.Append(' '); i++;
                        break;
                    }
                    Blank(sb, src[i++]);
                }
            }
            else if (c == '\'')
            {
                sb.Append(' '); i++;
                while (i < n && src[i] != '\'' && src[i] != '\n')
                {
                    if (src[i] == '\\' && i + 1 < n) { sb.Append(' '); i++; }
                    sb.Append(' '); i++;
                }
                if (i < n && src[i] == '\'') { sb.Append(' '); i++; }
            }
            else { sb.Append(c); i++; }
        }
        return sb.ToString();
    }

    /// <summary>A raw string literal: as many quotes close it as opened it (three or more).</summary>
    static int SkipRaw(string src, int i, StringBuilder sb)
    {
        int quotes = 0;
        while (i < src.Length && src[i] == '"') { quotes++; sb.Append(' '); i++; }
        string close = new('"', quotes);
        int end = src.IndexOf(close, i, StringComparison.Ordinal);
        if (end < 0) end = src.Length - quotes;
        while (i < end + quotes && i < src.Length) Blank(sb, src[i++]);
        return i;
    }

    static void Blank(StringBuilder sb, char c) => sb.Append(c == '\n' ? '\n' : ' ');
}
