using PdfSharp;
using PdfSharp.Drawing;
using PdfSharp.Pdf;

namespace PatchCore.ReportDocument.Render;

/// <summary>
/// A minimal flowing layout on A4 pages for PDFsharp: a cursor that moves down, starts a new page (with a page
/// number) when a block does not fit, and word-wraps text to a width. Enough for headings, paragraphs, tables,
/// figures and code; nothing more.
/// </summary>
sealed class PdfLayout : IDisposable
{
    public const double Margin = 50;
    readonly PdfDocument doc;
    XGraphics? gfx;
    PdfPage? page;
    public double Y { get; private set; }
    public int Pages => doc.PageCount;
    public double Left => Margin;
    public double Width => (page?.Width.Point ?? 595) - 2 * Margin;
    double Bottom => (page?.Height.Point ?? 842) - Margin;

    public PdfLayout(PdfDocument doc) { this.doc = doc; NewPage(); }

    public XGraphics G => gfx!;

    public void NewPage()
    {
        gfx?.Dispose();
        page = doc.AddPage();
        page.Size = PageSize.A4;
        gfx = XGraphics.FromPdfPage(page);
        Y = Margin;
        var f = new XFont(EmbeddedFonts.Family, 8);
        gfx.DrawString($"{doc.PageCount}", f, XBrushes.Gray, new XRect(0, page.Height.Point - Margin + 15, page.Width.Point, 12), XStringFormats.TopCenter);
    }

    /// <summary>Starts a new page unless <paramref name="height"/> points still fit on this one.</summary>
    public void Need(double height)
    {
        if (Y + height > Bottom && Y > Margin) NewPage();
    }

    public void Space(double points) => Y += points;

    /// <summary>Word-wraps and draws text from the cursor, breaking pages between lines.</summary>
    public void Text(string text, XFont font, XBrush? brush = null, double indent = 0, double? width = null)
    {
        double lineH = font.Size * 1.3;
        foreach (var line in Wrap(text, font, (width ?? Width) - indent))
        {
            Need(lineH);
            G.DrawString(line, font, brush ?? XBrushes.Black, new XRect(Left + indent, Y, Width - indent, lineH), XStringFormats.TopLeft);
            Y += lineH;
        }
    }

    /// <summary>Lines of at most <paramref name="width"/> points: breaks at spaces, and inside words longer than a line.</summary>
    public List<string> Wrap(string text, XFont font, double width)
    {
        var lines = new List<string>();
        foreach (var line in text.Replace("\r", "").Split('\n'))
        {
            // Leading spaces are kept (indentation of code and JSON); the rest wraps at spaces.
            string para = line.TrimStart(' ');
            var current = new string(' ', line.Length - para.Length);
            foreach (var word in para.Split(' '))
            {
                string candidate = current.Trim().Length == 0 ? current + word : current + " " + word;
                if (G.MeasureString(candidate, font).Width <= width) { current = candidate; continue; }
                if (current.Length > 0) lines.Add(current);
                current = word;
                // A word wider than the line (a path, a hash) is cut by characters.
                while (current.Length > 1 && G.MeasureString(current, font).Width > width)
                {
                    int n = current.Length - 1;
                    while (n > 1 && G.MeasureString(current[..n], font).Width > width) n--;
                    lines.Add(current[..n]);
                    current = current[n..];
                }
            }
            lines.Add(current);
        }
        return lines;
    }

    public void Dispose() => gfx?.Dispose();
}
