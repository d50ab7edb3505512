using PatchCore.Metrics;

namespace PatchCore.Tests.Experiments;

/// <summary>The curve points beside the metrics: monotone, from (0,0) to (1,1), their areas equal to the
/// metrics; the pixel sweep's AUROC equal to <see cref="Auroc"/> bit for bit and its AUPRO to <see cref="Aupro"/>.</summary>
public class CurveTests
{
    static (float[] Scores, bool[] Labels) Random(int n, int seed, int levels = 0)
    {
        var rng = new Random(seed);
        var s = new float[n]; var l = new bool[n];
        for (int i = 0; i < n; i++)
        {
            l[i] = rng.NextDouble() < 0.3;
            double v = rng.NextDouble() + (l[i] ? 0.4 : 0);
            s[i] = levels > 0 ? MathF.Round((float)v * levels) / levels : (float)v;
        }
        l[0] = true; l[1] = false;
        return (s, l);
    }

    static void Monotone(double[] a, string what)
    {
        for (int i = 1; i < a.Length; i++) Assert.True(a[i] >= a[i - 1], $"{what}[{i}] {a[i]} < {a[i - 1]}");
    }

    [Theory]
    [InlineData(300, 0)]   // no ties: distinct floats
    [InlineData(300, 10)]  // heavy ties
    public void ImageRocIsMonotoneFromOriginToOneAndItsAreaIsTheAuroc(int n, int levels)
    {
        var (s, l) = Random(n, 7 + levels, levels);
        var (roc, pr) = ThresholdSweep.Compute(s, l);
        Assert.Equal((0.0, 0.0), (roc.Fpr[0], roc.Tpr[0]));
        Assert.Equal((1.0, 1.0), (roc.Fpr[^1], roc.Tpr[^1]));
        Monotone(roc.Fpr, "fpr"); Monotone(roc.Tpr, "tpr"); Monotone(pr.Recall, "recall");
        for (int i = 1; i < roc.Thresholds.Length; i++) Assert.True(roc.Thresholds[i] < roc.Thresholds[i - 1]);
        Assert.True(roc.Thresholds[0] > s.Max());
        Assert.Equal(Auroc.Compute(s, l), roc.Area(), 1e-9);
        Assert.Equal((0.0, 1.0), (pr.Recall[0], pr.Precision[0]));
        Assert.Equal(1.0, pr.Recall[^1]);
        Assert.Equal(F1Max.Compute(s, l).F1, pr.F1Max(), 12);
        foreach (double p in pr.Precision) Assert.InRange(p, 0, 1);
    }

    [Fact]
    public void ThinningKeepsBothEndsAndAtMostTheLimit()
    {
        var (s, l) = Random(5000, 3);
        var (roc, _) = ThresholdSweep.Compute(s, l);
        var thin = roc.Thin(1000);
        Assert.Equal(1000, thin.Fpr.Length);
        Assert.Equal((roc.Fpr[0], roc.Tpr[0]), (thin.Fpr[0], thin.Tpr[0]));
        Assert.Equal((roc.Fpr[^1], roc.Tpr[^1], roc.Thresholds[^1]), (thin.Fpr[^1], thin.Tpr[^1], thin.Thresholds[^1]));
        Monotone(thin.Fpr, "fpr");
        Assert.Equal(roc.Area(), thin.Area(), 2e-3); // a thinned curve is a coarser polygon of the same curve
        Assert.Same(roc, roc.Thin(roc.Fpr.Length));
    }

    /// <summary>Maps of 4 images 12x10 with rectangular defects in images 1 and 3 (two types) and ties.</summary>
    static (float[] Maps, bool[] Masks, string[] Types) PixelCase(int seed)
    {
        const int n = 4, h = 12, w = 10;
        var rng = new Random(seed);
        var maps = new float[n * h * w]; var masks = new bool[maps.Length];
        string[] types = ["good", "scratch", "good", "blob"];
        for (int i = 0; i < maps.Length; i++) maps[i] = MathF.Round((float)rng.NextDouble() * 20) / 20;
        void Rect(int img, int y0, int x0, int y1, int x1)
        {
            for (int y = y0; y < y1; y++) for (int x = x0; x < x1; x++)
            {
                int p = img * h * w + y * w + x;
                masks[p] = true; maps[p] += 0.3f;
            }
        }
        Rect(1, 2, 2, 5, 6); Rect(1, 8, 7, 10, 9); Rect(3, 0, 0, 3, 3);
        return (maps, masks, types);
    }

    [Fact]
    public void PixelSweepGivesAurocBitForBitAndAuproAsAuproCompute()
    {
        var (maps, masks, _) = PixelCase(5);
        var sweep = new PixelSweep(maps, masks, 4, 12, 10);
        var (pixel, aupro) = sweep.Metrics();
        Assert.Equal(Auroc.Compute(maps, masks), pixel); // exact: the same half-integer sum over the same product
        Assert.Equal(Aupro.Compute(maps, masks, 4, 12, 10), aupro!.Value, 12);

        var curves = sweep.Curves()!.Value;
        Assert.Equal(pixel!.Value, curves.Roc.Area(), 1e-9);
        Assert.Equal((0.0, 0.0), (curves.Roc.Fpr[0], curves.Roc.Tpr[0]));
        Assert.Equal((1.0, 1.0), (curves.Roc.Fpr[^1], curves.Roc.Tpr[^1]));
        Monotone(curves.Roc.Fpr, "fpr"); Monotone(curves.Pro.Fpr, "pro fpr"); Monotone(curves.Pro.Pro, "pro");
        Assert.Equal(0.3, curves.Pro.Fpr[^1]);
        Assert.Equal(aupro.Value, curves.Pro.NormalizedArea(), 12);
        Assert.Equal(PixelF1Max.Compute(maps, masks).F1, curves.Pr.F1Max(), 12);
    }

    [Fact]
    public void PerTypePixelMetricsAreTheMetricsOfThatTypeAndTheGoodImages()
    {
        var (maps, masks, types) = PixelCase(9);
        var scores = new float[] { 0.1f, 0.9f, 0.2f, 0.8f };
        var report = Evaluation.ComputeReport(scores, [false, true, false, true], types, maps, masks, 12, 10);
        Assert.Equal(["blob", "scratch"], report.PerDefectType.Keys);
        int plane = 120;
        foreach (var (type, imgs) in new[] { ("scratch", new[] { 0, 1, 2 }), ("blob", new[] { 0, 2, 3 }) })
        {
            var m = new float[imgs.Length * plane]; var k = new bool[m.Length];
            for (int j = 0; j < imgs.Length; j++)
            {
                Array.Copy(maps, imgs[j] * plane, m, j * plane, plane);
                Array.Copy(masks, imgs[j] * plane, k, j * plane, plane);
            }
            var t = report.PerDefectType[type];
            Assert.Equal(Auroc.Compute(m, k), t.PixelAuroc);
            Assert.Equal(Aupro.Compute(m, k, imgs.Length, 12, 10), t.Aupro!.Value, 12);
        }
        Assert.NotEqual(report.PerDefectType["blob"].PixelAuroc, report.PerDefectType["scratch"].PixelAuroc);
        Assert.Equal(Auroc.Compute(maps, masks), report.Metrics.PixelAuroc);
        Assert.NotNull(report.Curves!.Pro);
    }

    [Fact]
    public void WithoutMasksThereAreNoPixelCurvesNorPerTypePixelMetrics()
    {
        var report = Evaluation.ComputeReport([0.1f, 0.9f], [false, true], ["good", "cut"], new float[2 * 4], null, 2, 2);
        Assert.Null(report.Curves!.PixelRoc);
        Assert.Null(report.Curves.Pro);
        Assert.Null(report.PerDefectType["cut"].PixelAuroc);
        Assert.Equal(1.0, report.PerDefectType["cut"].ImageAuroc);
    }
}
