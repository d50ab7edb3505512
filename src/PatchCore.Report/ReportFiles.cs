using PatchCore.IO;
using PatchCore.ReportDocument.Document;
using PatchCore.ReportDocument.Inputs;
using PatchCore.ReportDocument.Render;

namespace PatchCore.ReportDocument;

/// <summary>
/// The whole report command's work apart from the CLI: read the runs under a folder, build the document, render
/// it to report.html and report.pdf in the output folder. Each file is written atomically (IO/AtomicFile), so a
/// reader never sees half a report; both are rendered in memory before either is written.
/// </summary>
public static class ReportFiles
{
    public const string HtmlName = "report.html", PdfName = "report.pdf";

    public sealed record Written(string HtmlPath, string PdfPath, int Runs, int Sections, int Figures, int Tables, long HtmlBytes, long PdfBytes);

    public static Written Make(string inputFolder, string outFolder, PublishedNumbers published, ReportOptions options)
    {
        var input = ReportInput.Load(inputFolder);
        var content = ReportBuilder.Build(input, published, options);
        string html = HtmlRenderer.Render(content);
        byte[] pdf = PdfRenderer.Render(content).Pdf;
        string htmlPath = Path.Combine(outFolder, HtmlName), pdfPath = Path.Combine(outFolder, PdfName);
        AtomicFile.WriteAllText(htmlPath, html);
        AtomicFile.WriteAllBytes(pdfPath, pdf);
        int figures = content.Sections.Sum(s => s.Blocks.Count(b => b is Figure or Gallery));
        int tables = content.Sections.Sum(s => s.Blocks.Count(b => b is Table));
        return new Written(htmlPath, pdfPath, input.Runs.Count, content.Sections.Count, figures, tables,
            new FileInfo(htmlPath).Length, pdf.LongLength);
    }
}
