using PdfSharp.Drawing;
using PdfSharp.Pdf;
using PatchCore.ReportDocument.Document;

namespace PatchCore.ReportDocument.Render;

/// <summary>
/// The report as a PDF (PDFsharp 6.2.4, fonts embedded): the same sections, tables, figures and captions as the
/// HTML, numbered the same way, laid out on A4 by <see cref="PdfLayout"/>. Markdown prose goes through
/// <see cref="PdfProse"/> (headings, paragraphs, lists, code).
/// </summary>
public static class PdfRenderer
{
    /// <summary>The PDF, and the numbered captions in the order they were drawn (what a test can check without a PDF text extractor).</summary>
    public sealed record Result(byte[] Pdf, IReadOnlyList<string> Captions);

    public static Result Render(ReportContent report)
    {
        var captions = new List<string>();
        PdfFonts.Install();
        using var doc = new PdfDocument();
        doc.Info.Title = report.Title;
        doc.Info.Creator = "pcnative report";
        var body = new XFont(EmbeddedFonts.Family, 9.5);
        var caption = new XFont(EmbeddedFonts.Family, 8.5);
        var captionBold = new XFont(EmbeddedFonts.Family, 8.5, XFontStyleEx.Bold);
        var h1 = new XFont(EmbeddedFonts.Family, 16, XFontStyleEx.Bold);
        var h2 = new XFont(EmbeddedFonts.Family, 12.5, XFontStyleEx.Bold);
        var mono = new XFont(EmbeddedFonts.MonoFamily, 7);

        using (var l = new PdfLayout(doc))
        {
            l.Text(report.Title, new XFont(EmbeddedFonts.Family, 20, XFontStyleEx.Bold));
            l.Space(4);
            l.Text(report.Subtitle, caption, XBrushes.DimGray);
            l.Space(10);
            int table = 0, figure = 0;
            foreach (var s in report.Sections)
            {
                if (s.Level == 1) { l.Need(120); if (l.Y > PdfLayout.Margin + 200) { l.NewPage(); } }
                if (s.Level > 0)
                {
                    l.Need(60);
                    // The sections are the PDF's bookmarks too (level 2 under the level-1 section before it).
                    var parent = s.Level == 2 && doc.Outlines.Count > 0 ? doc.Outlines[doc.Outlines.Count - 1].Outlines : doc.Outlines;
                    parent.Add(s.Title, doc.Pages[doc.PageCount - 1], true);
                    l.Space(8);
                    l.Text(s.Title, s.Level == 1 ? h1 : h2);
                    l.Space(4);
                }
                foreach (var b in s.Blocks)
                {
                    switch (b)
                    {
                        case Paragraph p:
                            l.Text(p.Text, body);
                            l.Space(6);
                            break;
                        case Table t:
                            PdfTable.Draw(l, t, $"Table {++table}. ", captionBold, caption);
                            captions.Add($"Table {table}. {t.Caption}");
                            break;
                        case Figure f:
                            DrawFigure(l, f.Png, f.Width, f.Height, $"Figure {++figure}. ", f.Caption, captionBold, caption);
                            captions.Add($"Figure {figure}. {f.Caption}");
                            break;
                        case Gallery g:
                            DrawGallery(l, g, $"Figure {++figure}. ", captionBold, caption);
                            captions.Add($"Figure {figure}. {g.Caption}");
                            break;
                        case Code c:
                            l.Need(40);
                            l.Text(c.Caption, caption);
                            l.Space(2);
                            l.Text(c.Text, mono, XBrushes.Black, indent: 8);
                            l.Space(8);
                            break;
                        case Prose pr:
                            PdfProse.Draw(l, pr.Markdown, body, h1, h2, mono);
                            break;
                    }
                }
            }
        }
        using var ms = new MemoryStream();
        doc.Save(ms, false);
        return new Result(ms.ToArray(), captions);
    }

    static void DrawFigure(PdfLayout l, byte[] png, int pxW, int pxH, string number, string text, XFont bold, XFont font)
    {
        double w = Math.Min(l.Width, pxW * 0.7), h = w * pxH / pxW;
        double captionH = l.Wrap(number + text, font, l.Width).Count * font.Size * 1.3;
        l.Need(h + captionH + 8);
        using (var img = XImage.FromStream(new MemoryStream(png)))
            l.G.DrawImage(img, l.Left + (l.Width - w) / 2, l.Y, w, h);
        l.Space(h + 4);
        Caption(l, number, text, bold, font);
    }

    static void DrawGallery(PdfLayout l, Gallery g, string number, XFont bold, XFont font)
    {
        const int perRow = 2;
        double gap = 10, w = (l.Width - gap * (perRow - 1)) / perRow;
        var label = new XFont(EmbeddedFonts.Family, 7);
        for (int i = 0; i < g.Images.Count; i += perRow)
        {
            double rowH = 0;
            var placed = new List<(XImage Img, double H, List<string> Lines)>();
            for (int j = i; j < Math.Min(i + perRow, g.Images.Count); j++)
            {
                var img = XImage.FromStream(new MemoryStream(g.Images[j].Png));
                double h = w * img.PixelHeight / img.PixelWidth;
                var lines = l.Wrap(g.Images[j].Label, label, w);
                placed.Add((img, h, lines));
                rowH = Math.Max(rowH, h + lines.Count * label.Size * 1.3 + 6);
            }
            l.Need(rowH);
            for (int k = 0; k < placed.Count; k++)
            {
                double x = l.Left + k * (w + gap);
                l.G.DrawImage(placed[k].Img, x, l.Y, w, placed[k].H);
                double y = l.Y + placed[k].H + 2;
                foreach (var line in placed[k].Lines)
                {
                    l.G.DrawString(line, label, XBrushes.Black, new XRect(x, y, w, label.Size * 1.3), XStringFormats.TopLeft);
                    y += label.Size * 1.3;
                }
                placed[k].Img.Dispose();
            }
            l.Space(rowH);
        }
        Caption(l, number, g.Caption, bold, font);
    }

    /// <summary>"Figure N." in bold, then the caption text, wrapped.</summary>
    internal static void Caption(PdfLayout l, string number, string text, XFont bold, XFont font)
    {
        // The number is drawn bold over the first line's start; the text follows after its width.
        var lines = l.Wrap(number + text, font, l.Width);
        l.Need(font.Size * 1.3);
        l.G.DrawString(number, bold, XBrushes.Black, new XRect(l.Left, l.Y, l.Width, font.Size * 1.3), XStringFormats.TopLeft);
        double numberW = l.G.MeasureString(number, bold).Width;
        string first = lines[0].Length >= number.Length ? lines[0][number.Length..] : "";
        l.G.DrawString(first, font, XBrushes.Black, new XRect(l.Left + numberW, l.Y, l.Width, font.Size * 1.3), XStringFormats.TopLeft);
        l.Space(font.Size * 1.3);
        if (lines.Count > 1) l.Text(string.Join(" ", lines.Skip(1)), font);
        l.Space(10);
    }
}
