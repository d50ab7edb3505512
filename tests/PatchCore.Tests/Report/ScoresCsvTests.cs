using PatchCore.Report;

namespace PatchCore.Tests.Report;

public class ScoresCsvTests
{
    [Fact]
    public void LabelledRowsHaveTruthAndDecisionColumnsRoundTripScoresAndQuoteOnlyWhereNeeded()
    {
        string path = Path.Combine(TestPaths.TempDir(), "labelled.csv");
        float third = 1f / 3f;
        ScoresCsv.WriteLabelled(path,
        [
            new ScoreRow("test/good/000.png", third, 0.25, false) { DefectType = "good", Truth = 0 },
            new ScoreRow("test/crack/a,b.png", 2.5f, 1.0, true) { DefectType = "crack", Truth = 1 },
            new ScoreRow("x\"y.png", 1e-7f, null, null) { DefectType = "crack", Truth = 1 },
        ]);
        Assert.Equal("path,defect_type,truth,score,normalized_score,label\n" +
                     $"test/good/000.png,good,0,{third:R},0.25,0\n" +
                     "\"test/crack/a,b.png\",crack,1,2.5,1,1\n" +
                     "\"x\"\"y.png\",crack,1,1E-07,,\n",
            File.ReadAllText(path));
        Assert.Equal(third, float.Parse(File.ReadAllLines(path)[1].Split(',')[3], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void PredictRowsNameTheirHeatmapAndLeaveTheDecisionEmptyWhenUncalibrated()
    {
        string path = Path.Combine(TestPaths.TempDir(), "plain.csv");
        ScoresCsv.WritePredict(path,
        [
            new ScoreRow("in/a.png", 0.25f, 0.5, true) { Heatmap = "heatmaps/in/a.png" },
            new ScoreRow("b.png", 3f, null, null),
        ]);
        Assert.Equal("path,score,normalized_score,label,heatmap\nin/a.png,0.25,0.5,1,heatmaps/in/a.png\nb.png,3,,,\n", File.ReadAllText(path));
    }

    [Fact]
    public void ErrorsCsvHasOneQuotedLinePerFailure()
    {
        string path = Path.Combine(TestPaths.TempDir(), "errors.csv");
        ScoresCsv.WriteErrors(path, [("a.png", "cannot decode image (truncated, no IEND)")]);
        Assert.Equal("path,error\na.png,\"cannot decode image (truncated, no IEND)\"\n", File.ReadAllText(path));
    }
}
