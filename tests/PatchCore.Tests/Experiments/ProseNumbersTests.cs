using PatchCore.Experiments;

namespace PatchCore.Tests.Experiments;

public sealed class ProseNumbersTests : IDisposable
{
    readonly string root = Path.Combine(Path.GetTempPath(), "pcnative-prose-" + Guid.NewGuid().ToString("N"));

    public ProseNumbersTests()
    {
        Directory.CreateDirectory(Path.Combine(root, "coreset"));
        File.WriteAllText(Path.Combine(root, "coreset", "summary.csv"),
            "category,coreset,n_seeds,image_auroc_mean,image_auroc_sd\n" +
            "transistor,0.01,3,98.10,0.31\n" +
            "transistor,0.1,3,99.29,0.05\n" +
            "magnetic_tile,0.01,1,93.51,\n");
        Directory.CreateDirectory(Path.Combine(root, "main"));
        File.WriteAllText(Path.Combine(root, "main", "summary.csv"),
            "category,n_seeds,image_auroc_mean\ntransistor,3,99.30\n");
    }

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public void FillsEachPlaceholderFromTheMatchingRowAndLeavesTheRestAlone()
    {
        string template = "# T\nA {{coreset:transistor:coreset=0.10:image_auroc_mean}} ± {{coreset:transistor:coreset=0.1:image_auroc_sd}}\n" +
                          "B {{main:transistor:image_auroc_mean}}; C {{coreset:magnetic_tile:coreset=1e-2:image_auroc_mean}}\n";
        string filled = ProseNumbers.Fill(template, "t.md", root);
        Assert.Equal("# T\nA 99.29 ± 0.05\nB 99.30; C 93.51\n", filled);
        Assert.Equal(4, ProseNumbers.Names(template).Count);
    }

    [Theory]
    [InlineData("{{nosuch:transistor:image_auroc_mean}}", "does not exist")]
    [InlineData("{{coreset:transistor:image_auroc_mean}}", "2 rows")]
    [InlineData("{{coreset:transistor:coreset=0.5:image_auroc_mean}}", "no row")]
    [InlineData("{{coreset:transistor:coreset=0.1:aupro_mean}}", "no column 'aupro_mean'")]
    [InlineData("{{coreset:transistor:k=3:image_auroc_mean}}", "no parameter column 'k'")]
    [InlineData("{{coreset:magnetic_tile:coreset=0.01:image_auroc_sd}}", "empty")]
    [InlineData("{{coreset:image_auroc_mean}}", "must be SWEEP")]
    [InlineData("{{../x:transistor:image_auroc_mean}}", "not a sweep folder")]
    public void AnUnresolvablePlaceholderNamesTheTemplateLine(string placeholder, string message)
    {
        var e = Assert.Throws<InvalidDataException>(() => ProseNumbers.Fill("first\nsecond " + placeholder, "r.md", root));
        Assert.Contains("r.md:2", e.Message);
        Assert.Contains(message, e.Message);
    }
}

[Collection("Console")]
public sealed class FillCommandTests
{
    [Fact]
    public void FillWritesTheFilledTemplateAndRefusesAnUnresolvablePlaceholderWithoutWriting()
    {
        string dir = Path.Combine(Path.GetTempPath(), "pcnative-fill-" + Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "sweeps", "s"));
            File.WriteAllText(Path.Combine(dir, "sweeps", "s", "summary.csv"), "category,k,n_seeds,aupro_mean\ndemo,1,1,91.25\ndemo,3,1,92.50\n");
            string good = Path.Combine(dir, "good.md"), bad = Path.Combine(dir, "bad.md");
            string outGood = Path.Combine(dir, "out.md"), outBad = Path.Combine(dir, "out-bad.md");
            File.WriteAllText(good, "AUPRO {{s:demo:k=3:aupro_mean}}.\n");
            File.WriteAllText(bad, "ok\nAUPRO {{s:demo:aupro_mean}}.\n");
            var r = Reliability.CliRunner.Run("fill", good, "--sweeps", Path.Combine(dir, "sweeps"), "--out", outGood);
            Assert.Equal(0, r.Code);
            Assert.Equal("AUPRO 92.50.\n", File.ReadAllText(outGood));
            r = Reliability.CliRunner.Run("fill", bad, "--sweeps", Path.Combine(dir, "sweeps"), "--out", outBad);
            Reliability.CliRunner.AssertOneLineError(r, 1, "bad.md:2", "2 rows");
            Assert.False(File.Exists(outBad));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
