using PdfSharp.Drawing;
using PatchCore.ReportDocument.Document;

namespace PatchCore.ReportDocument.Render;

/// <summary>
/// A table on the PDF pages: caption above, columns sized to their content and shrunk to the page width (cells
/// wrap), header shaded and repeated after a page break.
/// </summary>
static class PdfTable
{
    public static void Draw(PdfLayout l, Table t, string number, XFont bold, XFont captionFont)
    {
        l.Need(40);
        PdfRenderer.Caption(l, number, t.Caption, bold, captionFont);
        l.Space(-6);
        DrawGrid(l, t.Header, t.Rows);
    }

    /// <summary>The table's grid alone (no caption): also the prose's Markdown tables.</summary>
    public static void DrawGrid(PdfLayout l, IReadOnlyList<string> header, IReadOnlyList<IReadOnlyList<string>> rows)
    {
        int cols = header.Count;
        double size = cols > 8 ? 6.5 : 7.5;
        var font = new XFont(EmbeddedFonts.Family, size);
        var headFont = new XFont(EmbeddedFonts.Family, size, XFontStyleEx.Bold);
        const double pad = 3;
        double lineH = size * 1.3;

        // Natural widths (the widest cell, capped so one long cell cannot take the page), then scaled to fit.
        var natural = new double[cols];
        for (int c = 0; c < cols; c++)
        {
            natural[c] = l.G.MeasureString(header[c], headFont).Width;
            foreach (var row in rows)
                if (c < row.Count) natural[c] = Math.Max(natural[c], l.G.MeasureString(row[c], font).Width);
            natural[c] = Math.Min(natural[c], l.Width * 0.45) + 2 * pad;
        }
        // Narrowing a column wraps its cells at spaces, never inside a word: each keeps its longest word's width,
        // and only the room above that is shared out (proportionally) when the table is wider than the page.
        var minimum = new double[cols];
        for (int c = 0; c < cols; c++)
        {
            minimum[c] = LongestWord(l, header[c], headFont);
            foreach (var row in rows) if (c < row.Count) minimum[c] = Math.Max(minimum[c], LongestWord(l, row[c], font));
            minimum[c] = Math.Min(minimum[c] + 2 * pad, natural[c]);
        }
        double total = natural.Sum(), minTotal = minimum.Sum();
        double[] widths;
        if (total <= l.Width) widths = natural;
        else if (minTotal < l.Width)
        {
            double share = (l.Width - minTotal) / (total - minTotal);
            widths = natural.Select((w, c) => minimum[c] + (w - minimum[c]) * share).ToArray();
        }
        else widths = minimum.Select(w => w * l.Width / minTotal).ToArray(); // words are cut: the only way to fit

        l.Need(30);
        DrawRow(l, header, widths, headFont, lineH, pad, shaded: true);
        foreach (var row in rows)
        {
            double h = RowHeight(l, row, widths, font, lineH, pad);
            if (l.Y + h > 842 - PdfLayout.Margin) { l.NewPage(); DrawRow(l, header, widths, headFont, lineH, pad, shaded: true); }
            DrawRow(l, row, widths, font, lineH, pad, shaded: false);
        }
        l.Space(12);
    }

    static double LongestWord(PdfLayout l, string text, XFont font)
    {
        double w = 0;
        foreach (var word in text.Split(' ', '\n')) w = Math.Max(w, l.G.MeasureString(word, font).Width);
        return w;
    }

    static double RowHeight(PdfLayout l, IReadOnlyList<string> row, double[] widths, XFont font, double lineH, double pad)
    {
        int lines = 1;
        for (int c = 0; c < widths.Length && c < row.Count; c++) lines = Math.Max(lines, l.Wrap(row[c], font, widths[c] - 2 * pad).Count);
        return lines * lineH + 2 * pad;
    }

    static void DrawRow(PdfLayout l, IReadOnlyList<string> row, double[] widths, XFont font, double lineH, double pad, bool shaded)
    {
        double h = RowHeight(l, row, widths, font, lineH, pad);
        double x = l.Left;
        var pen = new XPen(XColors.Silver, 0.5);
        for (int c = 0; c < widths.Length; c++)
        {
            var rect = new XRect(x, l.Y, widths[c], h);
            if (shaded) l.G.DrawRectangle(pen, XBrushes.Gainsboro, rect); else l.G.DrawRectangle(pen, rect);
            double y = l.Y + pad;
            if (c < row.Count)
                foreach (var line in l.Wrap(row[c], font, widths[c] - 2 * pad))
                {
                    l.G.DrawString(line, font, XBrushes.Black, new XRect(x + pad, y, widths[c] - 2 * pad, lineH), XStringFormats.TopLeft);
                    y += lineH;
                }
            x += widths[c];
        }
        l.Space(h);
    }
}
