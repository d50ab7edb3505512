using PatchCore.Tests.Reliability;

namespace PatchCore.Tests.ReportDocument;

/// <summary>`pcnative report` end to end on a real (tiny synthetic) run, and its one-line errors.</summary>
[Collection("Console")]
public class ReportCommandTests
{
    [Fact]
    public void ReportOfARealRun_WritesHtmlAndPdf()
    {
        string root = CliRunner.TinyRoot(out string weights);
        string run = Path.Combine(TestPaths.TempDir(), "run");
        var r = CliRunner.Run([.. new[] { "run" }, .. CliRunner.TinyFlags(root, weights), "--out", run]);
        Assert.True(r.Code == 0, r.Err);
        string outDir = Path.Combine(TestPaths.TempDir(), "report");
        var rep = CliRunner.Run("report", run, "--out", outDir, "--gallery", "1");
        Assert.True(rep.Code == 0, rep.Err);
        Assert.Contains("report.html", rep.Out);
        string html = File.ReadAllText(Path.Combine(outDir, "report.html"));
        Assert.Contains("<section id=\"run-1\">", html);
        Assert.Contains("Image scores of run", html);
        Assert.True(new FileInfo(Path.Combine(outDir, "report.pdf")).Length > 1000);
    }

    [Fact]
    public void BadFolderOrFlag_IsOneLineError()
    {
        string missing = Path.Combine(TestPaths.TempDir(), "nope");
        var a = CliRunner.Run("report", missing, "--out", TestPaths.TempDir());
        Assert.Equal(1, a.Code);
        Assert.Equal($"pcnative: error: {missing}: no such folder", a.Err.Trim());

        string empty = TestPaths.TempDir();
        var b = CliRunner.Run("report", empty, "--out", TestPaths.TempDir());
        Assert.Equal(1, b.Code);
        Assert.Single(b.Err.Trim().Split('\n'));
        Assert.Contains("no run folder", b.Err);

        var c = CliRunner.Run("report", empty, "--gallery", "99");
        Assert.Equal(1, c.Code);
        Assert.Contains("--gallery 99", c.Err);

        var d = CliRunner.Run("report", empty, "--prose", Path.Combine(empty, "missing.md"));
        Assert.Equal(1, d.Code);
        Assert.Contains("--prose", d.Err);
    }
}
