using PatchCore.Report;

namespace PatchCore.Tests.Report;

public class ScoresCsvTests
{
    [Fact]
    public void RowsInOrderWithRoundTripScoresAndQuotedNamesOnlyWhereNeeded()
    {
        string dir = TestPaths.TempDir();
        string labelled = Path.Combine(dir, "labelled.csv"), plain = Path.Combine(dir, "plain.csv");
        float third = 1f / 3f;
        ScoresCsv.Write(labelled, ["good/000.png", "crack/a,b.png", "x\"y.png"], [0, 1, 1], [third, 2.5f, 1e-7f]);
        Assert.Equal($"path,label,score\ngood/000.png,0,{third:R}\n\"crack/a,b.png\",1,2.5\n\"x\"\"y.png\",1,1E-07\n",
            File.ReadAllText(labelled));
        Assert.Equal(third, float.Parse(File.ReadAllLines(labelled)[1].Split(',')[2], System.Globalization.CultureInfo.InvariantCulture));
        ScoresCsv.Write(plain, ["a.png"], null, [0.25f]);
        Assert.Equal("path,score\na.png,0.25\n", File.ReadAllText(plain));
    }
}
