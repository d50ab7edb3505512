using CommandLine;
using PatchCore.ReportDocument;
using PatchCore.ReportDocument.Document;
using PatchCore.ReportDocument.Inputs;

namespace PatchCore.Cli.Commands;

[Verb("report", HelpText = "Write report.html (self-contained) and report.pdf from run folders, a multi-category folder or a sweep folder.")]
public sealed class ReportCommand : ICommand
{
    [Value(0, MetaName = "folder", Required = true, HelpText = "A run folder, a folder of runs (found recursively: any folder with results.json) or a sweep folder.")]
    public string Folder { get; set; } = "";

    [Option("out", Default = "report", HelpText = "Output folder for report.html and report.pdf (created if missing; the two files are replaced).")]
    public string Out { get; set; } = "report";

    [Option("prose", HelpText = "Markdown file placed before the generated sections (Markdig for HTML; headings, paragraphs, lists and code in the PDF).")]
    public string? Prose { get; set; }

    [Option("published", HelpText = "Markdown file with a \"Numbers to compare with\" table of published image AUROC (default: the embedded copy of ALGORITHM.md's).")]
    public string? Published { get; set; }

    [Option("title", Default = "PatchCore report", HelpText = "The report's title.")]
    public string Title { get; set; } = "PatchCore report";

    [Option("max-runs", Default = 12, HelpText = "Runs that get a section of their own (curves, histogram, heat maps); 0..1000. All runs are in the tables.")]
    public int MaxRuns { get; set; } = 12;

    [Option("gallery", Default = 4, HelpText = "Best and worst heat maps shown per run (each); 0..32.")]
    public int Gallery { get; set; } = 4;

    public int Execute()
    {
        if (MaxRuns is < 0 or > 1000) throw new UserError($"--max-runs {MaxRuns}: must be 0..1000");
        if (Gallery is < 0 or > 32) throw new UserError($"--gallery {Gallery}: must be 0..32");
        if (!Directory.Exists(Folder)) throw new UserError($"{Folder}: no such folder");
        string? prose = null;
        if (Prose != null)
        {
            if (!File.Exists(Prose)) throw new UserError($"--prose {Prose}: no such file");
            prose = File.ReadAllText(Prose);
        }
        var published = PublishedNumbers.Embedded();
        if (Published != null)
        {
            if (!File.Exists(Published)) throw new UserError($"--published {Published}: no such file");
            published = PublishedNumbers.Parse(File.ReadAllText(Published), Published);
        }
        var options = new ReportOptions { Title = Title, MaxRunDetails = MaxRuns, GalleryImages = Gallery, ProseMarkdown = prose };
        var w = ReportFiles.Make(Folder, Out, published, options);
        Console.Out.WriteLine($"pcnative report: {w.Runs} run(s), {w.Sections} sections, {w.Tables} tables, {w.Figures} figures");
        Console.Out.WriteLine($"  {w.HtmlPath}  ({w.HtmlBytes / 1024} KiB)");
        Console.Out.WriteLine($"  {w.PdfPath}  ({w.PdfBytes / 1024} KiB)");
        return 0;
    }
}
