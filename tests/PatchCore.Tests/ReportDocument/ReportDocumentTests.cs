using System.Text.RegularExpressions;
using PatchCore.ReportDocument;
using PatchCore.ReportDocument.Document;
using PatchCore.ReportDocument.Inputs;
using PatchCore.ReportDocument.Render;
using PdfSharp.Pdf;
using PdfSharp.Pdf.IO;
using SkiaSharp;

namespace PatchCore.Tests.ReportDocument;

/// <summary>
/// The report's structure: sections, tables, figures with captions, images that are real PNGs, a PDF that
/// PDFsharp reads back with pages and bookmarks. Built from fake run and sweep folders (ReportFixtures).
/// </summary>
public class ReportDocumentTests
{
    static readonly Regex Img = new("src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"", RegexOptions.Compiled);

    static ReportContent Build(string folder, ReportOptions? options = null) =>
        ReportBuilder.Build(ReportInput.Load(folder), PublishedNumbers.Embedded(), options ?? new ReportOptions());

    static int Count(string html, string tag) => Regex.Matches(html, "<" + tag + "[ >]").Count;

    /// <summary>Every embedded image decodes as a PNG of positive size.</summary>
    static int AssertImagesArePngs(string html)
    {
        var matches = Img.Matches(html);
        foreach (Match m in matches)
        {
            byte[] png = Convert.FromBase64String(m.Groups[1].Value);
            Assert.True(png.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10 }), "not a PNG signature");
            using var bmp = SKBitmap.Decode(png);
            Assert.NotNull(bmp);
            Assert.True(bmp.Width > 0 && bmp.Height > 0);
        }
        return matches.Count;
    }

    [Fact]
    public void OneRunWithoutCurvesJson_HasEverySectionTableAndCaptionedFigure()
    {
        string dir = ReportFixtures.Run(Path.Combine(TestPaths.TempDir(), "run1"), "transistor", 0.01, 0);
        var content = Build(dir, new ReportOptions { GalleryImages = 2 });
        string html = HtmlRenderer.Render(content);

        foreach (var id in new[] { "overview", "published", "timings", "runs", "run-1", "configurations" })
            Assert.Contains($"<section id=\"{id}\">", html);
        Assert.DoesNotContain("<section id=\"sweep\">", html); // one run: nothing swept

        int figures = content.Sections.Sum(s => s.Blocks.Count(b => b is Figure or Gallery));
        int tables = content.Sections.Sum(s => s.Blocks.Count(b => b is Table));
        // timings, ROC, PR (no PRO without curves.json), histogram, gallery
        Assert.Equal(5, figures);
        Assert.Equal(tables, Count(html, "table"));
        Assert.Equal(figures, Regex.Matches(html, "<figcaption><span class=\"num\">Figure ").Count);
        Assert.Equal(tables, Regex.Matches(html, "<caption><span class=\"num\">Table ").Count);
        // 4 plots + 4 gallery heat maps (2 best, 2 worst)
        Assert.Equal(8, AssertImagesArePngs(html));
        Assert.Contains("computed from scores.csv", html);
        Assert.Contains("Heat maps of run", html);
        // the published numbers: the paper's transistor 100 and pixel AUROC 98.1 are in the comparison tables
        var published = content.Sections.Single(s => s.Id == "published").Blocks.OfType<Table>().ToList();
        Assert.Contains(published[0].Rows, r => r[0] == "transistor" && r.Contains("100") && r.Contains("99.6"));
        Assert.Contains(published[1].Rows, r => r[0] == "pixel AUROC" && r[3] == "98.1");
        // the exact configuration
        Assert.Contains("&quot;coreset&quot;: 0.01", html);
        // no reference outside the file
        Assert.DoesNotContain("src=\"http", html);
        Assert.DoesNotContain("<script", html);
    }

    [Fact]
    public void Pdf_OpensInPdfSharp_WithPagesBookmarksAndEveryCaption()
    {
        string dir = ReportFixtures.Run(Path.Combine(TestPaths.TempDir(), "run1"), "carpet", 0.1, 1, curves: true);
        var content = Build(dir, new ReportOptions { ProseMarkdown = "# Introduction\n\nSome *text*.\n\n- a\n- b\n\n```\ncode\n```\n" });
        var result = PdfRenderer.Render(content);

        using var pdf = PdfReader.Open(new MemoryStream(result.Pdf), PdfDocumentOpenMode.Import);
        Assert.True(pdf.PageCount >= 3, $"{pdf.PageCount} pages");
        int images = 0;
        foreach (var page in pdf.Pages)
            if (page.Resources.Elements.GetDictionary("/XObject") is { } xobjects)
                foreach (var key in xobjects.Elements.Keys)
                    if (xobjects.Elements.GetReference(key)?.Value is PdfDictionary d && d.Elements.GetName("/Subtype") == "/Image") images++;
        int expectedImages = content.Sections.Sum(s => s.Blocks.Sum(b => b switch { Figure => 1, Gallery g => g.Images.Count, _ => 0 }));
        Assert.Equal(expectedImages, images);

        var expected = new List<string>();
        int t = 0, f = 0;
        foreach (var b in content.Sections.SelectMany(s => s.Blocks))
            if (b is Table table) expected.Add($"Table {++t}. {table.Caption}");
            else if (b is Figure fig) expected.Add($"Figure {++f}. {fig.Caption}");
            else if (b is Gallery g) expected.Add($"Figure {++f}. {g.Caption}");
        Assert.Equal(expected, result.Captions);
        Assert.Contains(result.Captions, c => c.Contains("PRO curve"));
    }

    [Fact]
    public void CurvesJson_IsReadWhenPresent_WithPixelAndPro()
    {
        string dir = ReportFixtures.Run(Path.Combine(TestPaths.TempDir(), "run1"), "carpet", 0.1, 0, curves: true, heatmaps: false);
        var run = RunFolderReader.Read(dir, "r");
        Assert.False(run.Curves.FromScores);
        Assert.NotNull(run.Curves.PixelRoc);
        Assert.Equal([0, 0.1, 0.3, 1], run.Curves.Pro!.X);
        Assert.Equal(0.9, run.PerDefectType[0].PixelAuroc);

        var content = Build(dir);
        var captions = content.Sections.SelectMany(s => s.Blocks).OfType<Figure>().Select(x => x.Caption).ToList();
        Assert.Contains(captions, c => c.StartsWith("PRO curve"));
        Assert.DoesNotContain(captions, c => c.Contains("computed from scores.csv"));
        Assert.DoesNotContain(content.Sections.SelectMany(s => s.Blocks), b => b is Gallery); // no heatmaps/ folder
    }

    [Fact]
    public void SweepFolder_PlotsEachMetricAgainstEachParameterAndTimeAgainstCoreset()
    {
        string dir = ReportFixtures.Sweep(Path.Combine(TestPaths.TempDir(), "sweep"), ["carpet", "transistor"], [0.01, 0.1], [0, 1]);
        var input = ReportInput.Load(dir);
        Assert.True(input.IsSweep);
        Assert.Equal(["coreset"], input.SweptParams); // the seed is a repeat, not an axis
        Assert.Equal(8, input.Runs.Count);

        var content = Build(dir, new ReportOptions { MaxRunDetails = 1 });
        var sweep = content.Sections.Single(s => s.Id == "sweep");
        var captions = sweep.Blocks.OfType<Figure>().Select(f => f.Caption).ToList();
        foreach (var metric in new[] { "image AUROC", "pixel AUROC", "AUPRO", "image F1-max" })
            Assert.Contains(captions, c => c.StartsWith(metric) && c.Contains("against coreset"));
        Assert.Contains(captions, c => c.StartsWith("Time of the whole run") && c.Contains("coreset fraction"));
        var table = sweep.Blocks.OfType<Table>().Single();
        Assert.Equal(4, table.Rows.Count); // 2 categories × 2 coreset values
        Assert.All(table.Rows, r => Assert.Equal("2", r[2])); // 2 seeds each
        Assert.All(table.Rows, r => Assert.Contains("±", r[3])); // mean ± sd
        // one run section only (--max-runs 1), but every run's configuration
        Assert.Single(content.Sections, s => s.Id.StartsWith("run-"));
        Assert.Equal(8, content.Sections.Single(s => s.Id == "configurations").Blocks.OfType<Code>().Count());
        AssertImagesArePngs(HtmlRenderer.Render(content));
    }

    /// <summary>Runs with a finetune.json (a sweep's fine-tuning runs) get a "Fine-tuning curves" section: training loss,
    /// held-out loss and held-out accuracy against the epoch, mean ± sd over seeds; a folder without them has none.</summary>
    [Fact]
    public void FineTuningRuns_GetTrainingCurveFigures()
    {
        string dir = ReportFixtures.Sweep(Path.Combine(TestPaths.TempDir(), "sweep"), ["transistor"], [0.01], [0, 1]);
        Assert.DoesNotContain(Build(dir, new ReportOptions { MaxRunDetails = 0 }).Sections, s => s.Id == "finetuning");
        int k = 0;
        foreach (string run in Directory.GetDirectories(Path.Combine(dir, "runs")))
        {
            double loss = 1.0 + k++;
            File.WriteAllText(Path.Combine(run, "finetune.json"), "{\"task\": \"rotation\", \"epochs\": [" +
                "{\"Epoch\": 0, \"TrainLoss\": \"NaN\", \"HeldOutLoss\": 1.4, \"HeldOutAccuracy\": 0.25, \"LearningRate\": 0}, " +
                $"{{\"Epoch\": 1, \"TrainLoss\": {loss}, \"HeldOutLoss\": 0.7, \"HeldOutAccuracy\": 0.5, \"LearningRate\": 0.01}}, " +
                "{\"Epoch\": 2, \"TrainLoss\": 0.5, \"HeldOutLoss\": 0.4, \"HeldOutAccuracy\": \"NaN\", \"LearningRate\": 0}]}");
        }
        // Epoch 0 (before training) has no training loss.
        Assert.Equal([null, 1.0, 0.5], ReportInput.Load(dir).Runs[0].FineTuning!.Select(e => e.TrainLoss));
        var content = Build(dir, new ReportOptions { MaxRunDetails = 0 });
        var ft = content.Sections.Single(s => s.Id == "finetuning");
        var captions = ft.Blocks.OfType<Figure>().Select(f => f.Caption).ToList();
        Assert.Equal(3, captions.Count);
        Assert.Contains(captions, c => c.Contains("(task fine-tuned): training loss (epoch mean) against the epoch"));
        Assert.All(captions, c => Assert.Contains("Lines — blue: ", c));   // the key of the lines, by colour
        Assert.Contains(captions, c => c.Contains("held-out accuracy against the epoch"));
        Assert.Contains("2 run(s) fine-tuned", ft.Blocks.OfType<Paragraph>().First().Text);
        AssertImagesArePngs(HtmlRenderer.Render(content));

        File.WriteAllText(Path.Combine(Directory.GetDirectories(Path.Combine(dir, "runs"))[0], "finetune.json"), "{\"task\": \"rotation\"}");
        var e = Assert.Throws<InvalidDataException>(() => ReportInput.Load(dir));
        Assert.Contains("finetune.json: no \"epochs\" list", e.Message);
    }

    [Fact]
    public void RunsFolderWithoutSweepJson_SweepsTheConfigKeysThatVary()
    {
        string root = TestPaths.TempDir();
        ReportFixtures.Run(Path.Combine(root, "transistor", "a"), "transistor", 0.01, 0, heatmaps: false);
        ReportFixtures.Run(Path.Combine(root, "transistor", "b"), "transistor", 0.1, 0, heatmaps: false, backend: "cuda");
        Directory.CreateDirectory(Path.Combine(root, ".partial-1"));
        File.WriteAllText(Path.Combine(root, ".partial-1", "results.json"), "{ broken");
        var input = ReportInput.Load(root);
        Assert.Equal(2, input.Runs.Count); // the hidden unfinished folder is skipped
        Assert.Equal(["coreset"], input.SweptParams);
        var content = Build(root);
        var timings = content.Sections.Single(s => s.Id == "timings").Blocks.OfType<Table>().Single();
        Assert.Equal(["cpu", "cuda"], timings.Rows.Select(r => r[0]));
    }

    [Fact]
    public void MultiCategoryFolder_ComparesEachCategoryAndTheirMean()
    {
        string root = TestPaths.TempDir();
        ReportFixtures.Run(Path.Combine(root, "carpet"), "carpet", 0.1, 0, heatmaps: false);
        ReportFixtures.Run(Path.Combine(root, "transistor"), "transistor", 0.1, 0, heatmaps: false);
        File.WriteAllText(Path.Combine(root, "summary.csv"), "category,image_auroc,pixel_auroc,aupro,f1_max,total_s\n");
        var content = Build(root);
        var table = content.Sections.Single(s => s.Id == "published").Blocks.OfType<Table>().First();
        Assert.Equal(["carpet", "transistor", "mean of the 2 measured categories"], table.Rows.Select(r => r[0]));
        Assert.Equal("98.7", table.Rows[0][2]); // paper, 10% coreset, carpet
        Assert.Equal("99 (all 15)", table.Rows[2][2]);
        Assert.Empty(ReportInput.Load(root).SweptParams); // same config in both: nothing swept
    }

    [Fact]
    public void ImageRocFromScores_MatchesTheKnownAuroc_WithTies()
    {
        // scikit-learn's roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.75; a tie between classes counts half.
        ScoreRow R(int truth, double s) => new("p", "t", truth, s, null);
        var c = CurveMath.FromScores([R(0, 0.1), R(0, 0.4), R(1, 0.35), R(1, 0.8)]);
        Assert.Equal(0.75, CurveMath.Area(c.ImageRoc!), 12);
        var tied = CurveMath.FromScores([R(0, 0.5), R(1, 0.5), R(1, 0.9), R(0, 0.1)]);
        Assert.Equal(0.875, CurveMath.Area(tied.ImageRoc!), 12);
        Assert.True(c.FromScores);
    }

    [Fact]
    public void LongCurves_AreThinnedKeepingTheirEnds()
    {
        var x = Enumerable.Range(0, 10_001).Select(i => i / 10_000.0).ToArray();
        var (tx, ty) = PatchCore.ReportDocument.Plots.Charts.Thin(new Curve(x, x), 4000);
        Assert.True(tx.Length <= 4001, $"{tx.Length} points");
        Assert.Equal(0, tx[0]);
        Assert.Equal(1, tx[^1]);
        Assert.Equal(tx, ty);
        var small = new Curve([0, 1], [0, 1]);
        Assert.Same(small.X, PatchCore.ReportDocument.Plots.Charts.Thin(small, 4000).X);
    }

    [Fact]
    public void PublishedNumbers_ParseTheTableAndThePixelLine()
    {
        var p = PublishedNumbers.Embedded();
        Assert.Equal(5, p.Rows.Count);
        Assert.Equal(98.7, p.Rows[0].ImageAurocPercent["carpet"]);
        Assert.Equal(99.16, p.Rows[2].ImageAurocPercent["mean"]);
        Assert.False(p.Rows[2].ImageAurocPercent.ContainsKey("transistor")); // an empty cell is no number
        Assert.Equal(98.1, p.PaperPixelAurocPercent);
        Assert.Equal(93.5, p.PaperProPercent);
        Assert.Throws<InvalidDataException>(() => PublishedNumbers.Parse("# nothing here\n", "x.md"));

        // The embedded copy is the workplace's ALGORITHM.md table, where that file is at hand.
        string shared = Path.Combine(TestPaths.RepoRoot, "..", "shared", "docs", "ALGORITHM.md");
        Assert.SkipUnless(File.Exists(shared), "shared/docs/ALGORITHM.md is not beside the repository");
        var fromShared = PublishedNumbers.Parse(File.ReadAllText(shared), shared);
        Assert.Equal(p.Rows.Select(r => (r.Source, string.Join(",", r.ImageAurocPercent.OrderBy(kv => kv.Key)))),
            fromShared.Rows.Select(r => (r.Source, string.Join(",", r.ImageAurocPercent.OrderBy(kv => kv.Key)))));
    }

    [Fact]
    public void ProseComesFirst_AsMarkdigHtml()
    {
        string dir = ReportFixtures.Run(Path.Combine(TestPaths.TempDir(), "run1"), "transistor", 0.01, 0, heatmaps: false);
        string html = HtmlRenderer.Render(Build(dir, new ReportOptions { ProseMarkdown = "# Introduction\n\nPatchCore *works*.\n" }));
        int intro = html.IndexOf("<h1 id=\"introduction\">Introduction</h1>", StringComparison.Ordinal);
        Assert.True(intro > 0, "Markdig heading missing");
        Assert.True(intro < html.IndexOf("<section id=\"overview\">", StringComparison.Ordinal));
        Assert.Contains("<em>works</em>", html);
    }

    [Fact]
    public void BadInputs_AreErrorsNamingTheFile()
    {
        string empty = TestPaths.TempDir();
        var e1 = Assert.Throws<InvalidDataException>(() => ReportInput.Load(empty));
        Assert.Contains("no run folder", e1.Message);

        string dir = ReportFixtures.Run(Path.Combine(TestPaths.TempDir(), "run1"), "transistor", 0.01, 0, heatmaps: false);
        File.WriteAllText(Path.Combine(dir, "curves.json"), "{\"image\": {\"roc\": {\"fpr\": [0, 1], \"tpr\": [0]}}}");
        var e2 = Assert.Throws<InvalidDataException>(() => ReportInput.Load(dir));
        Assert.Contains("curves.json", e2.Message);
        File.Delete(Path.Combine(dir, "curves.json"));
        File.WriteAllText(Path.Combine(dir, "scores.csv"), "path,defect_type,truth,score\ntest/a.png,good,0,abc\n");
        var e3 = Assert.Throws<InvalidDataException>(() => ReportInput.Load(dir));
        Assert.Contains("scores.csv", e3.Message);
        File.WriteAllText(Path.Combine(dir, "results.json"), "not json");
        var e4 = Assert.Throws<InvalidDataException>(() => ReportInput.Load(dir));
        Assert.Contains("results.json", e4.Message);
    }

    [Fact]
    public void ReportFiles_WritesBothFilesAndNoTemporaries()
    {
        string dir = ReportFixtures.Run(Path.Combine(TestPaths.TempDir(), "run1"), "transistor", 0.01, 0);
        string outDir = Path.Combine(TestPaths.TempDir(), "report");
        var w = ReportFiles.Make(dir, outDir, PublishedNumbers.Embedded(), new ReportOptions());
        Assert.Equal([ReportFiles.HtmlName, ReportFiles.PdfName], Directory.GetFiles(outDir).Select(Path.GetFileName).Order());
        Assert.StartsWith("<!DOCTYPE html>", File.ReadAllText(w.HtmlPath));
        Assert.StartsWith("%PDF-", File.ReadAllText(w.PdfPath)[..5]);
        Assert.Equal(1, w.Runs);
    }
}
