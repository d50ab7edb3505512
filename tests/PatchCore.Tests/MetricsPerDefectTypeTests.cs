using PatchCore.Metrics;

namespace PatchCore.Tests;

public class MetricsPerDefectTypeTests
{
    [Fact]
    public void EachTypeIsRankedAgainstTheGoodImagesOnly()
    {
        // good: 1, 2, 3, 4. crack: 5, 6 (above every good: 1). hole: 0.5, 3.5 (below all / above 3 of 4: (0 + 3) / 8).
        // scratch: 3 (one tie with good 3: (2 + 0.5) / 4). Overall AUROC would mix them; per type it must not.
        float[] scores = [1, 5, 2, 0.5f, 3, 6, 4, 3.5f, 3];
        string[] types = ["good", "crack", "good", "hole", "good", "crack", "good", "hole", "scratch"];
        var r = PerDefectType.Compute(scores, types);
        Assert.Equal(["crack", "hole", "scratch"], r.Keys);
        Assert.Equal(new DefectTypeAuroc(1.0, 2), r["crack"]);
        Assert.Equal(new DefectTypeAuroc(3.0 / 8, 2), r["hole"]);
        Assert.Equal(new DefectTypeAuroc(2.5 / 4, 1), r["scratch"]);
    }

    [Fact]
    public void NoGoodImagesGiveNoPerTypeAurocAndSizesMustAgree()
    {
        Assert.Empty(PerDefectType.Compute([1f, 2f], ["crack", "hole"]));
        Assert.Throws<ArgumentException>(() => PerDefectType.Compute([1f], ["good", "crack"]));
    }
}
