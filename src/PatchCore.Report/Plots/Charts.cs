using PatchCore.ReportDocument.Document;
using PatchCore.ReportDocument.Inputs;
using PatchCore.ReportDocument.Render;
using ScottPlot;

namespace PatchCore.ReportDocument.Plots;

/// <summary>A line of a sweep plot: one category's mean (± sd over seeds) at each value of the swept parameter.</summary>
public sealed record SweepSeries(string Label, double[] X, double[] Mean, double[] Sd);

/// <summary>
/// Every plot of the report, drawn with ScottPlot 5.1.59 on SkiaSharp into PNG bytes. Each plot has labelled axes
/// with units; the caption is the caller's. The size is fixed (pixels) so HTML and PDF lay them out alike.
/// </summary>
public static class Charts
{
    public const int Width = 720, Height = 440;

    /// <summary>The colours of ScottPlot's Category10 palette, in its order, as a reader names them.</summary>
    static readonly string[] PaletteNames = ["blue", "orange", "green", "red", "purple", "brown", "pink", "grey", "olive", "cyan"];

    static Plot NewPlot(string xLabel, string yLabel)
    {
        ScottPlotFonts.Install();
        var plt = new Plot();
        plt.XLabel(xLabel);
        plt.YLabel(yLabel);
        plt.Axes.Bottom.Label.FontSize = 15;
        plt.Axes.Left.Label.FontSize = 15;
        return plt;
    }

    static Figure Done(Plot plt, string caption)
    {
        var png = plt.GetImageBytes(Width, Height, ImageFormat.Png);
        return new Figure(caption, png, Width, Height);
    }

    /// <summary>Curves on the unit square (ROC, PR, PRO), one line per labelled curve.</summary>
    public static Figure Curves(IReadOnlyList<(string Label, Curve Curve)> curves, string xLabel, string yLabel, string caption,
        bool diagonal = false, double? xMarker = null, string? xMarkerLabel = null)
    {
        var plt = NewPlot(xLabel, yLabel);
        if (diagonal)
        {
            var d = plt.Add.Line(0, 0, 1, 1);
            d.LinePattern = LinePattern.Dotted;
            d.Color = Colors.Gray;
            d.LegendText = "chance";
        }
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < curves.Count; i++)
        {
            var (xs, ys) = Thin(curves[i].Curve, MaxCurvePoints);
            var s = plt.Add.ScatterLine(xs, ys, palette.GetColor(i));
            s.LineWidth = 2;
            s.LegendText = curves[i].Label;
        }
        if (xMarker is double xm)
        {
            var v = plt.Add.VerticalLine(xm);
            v.LinePattern = LinePattern.Dashed;
            v.Color = Colors.Black;
            v.LegendText = xMarkerLabel ?? "";
        }
        plt.Axes.SetLimits(-0.01, 1.01, -0.01, 1.01);
        plt.ShowLegend(Alignment.LowerRight);
        return Done(plt, caption);
    }

    /// <summary>A pixel curve may have a point per distinct pixel score (millions); the plot needs no more than this.</summary>
    public const int MaxCurvePoints = 4000;

    /// <summary>Every k-th point, always keeping the first and the last (the curve's ends), so a long curve plots fast.</summary>
    public static (double[] X, double[] Y) Thin(Inputs.Curve c, int max)
    {
        int n = c.X.Length;
        if (n <= max) return (c.X, c.Y);
        int step = (n + max - 2) / (max - 1);
        var xs = new List<double>(max + 1); var ys = new List<double>(max + 1);
        for (int i = 0; i < n; i += step) { xs.Add(c.X[i]); ys.Add(c.Y[i]); }
        if ((n - 1) % step != 0) { xs.Add(c.X[n - 1]); ys.Add(c.Y[n - 1]); }
        return (xs.ToArray(), ys.ToArray());
    }

    /// <summary>Histograms of the good and the defective test images' scores on shared bins, and the threshold.</summary>
    public static Figure ScoreHistogram(IReadOnlyList<ScoreRow> scores, double? threshold, string caption)
    {
        var plt = NewPlot("image anomaly score (squared L2 feature distance, no unit)", "test images (count)");
        double lo = double.MaxValue, hi = double.MinValue;
        foreach (var s in scores) { lo = Math.Min(lo, s.Score); hi = Math.Max(hi, s.Score); }
        if (threshold is double t) { lo = Math.Min(lo, t); hi = Math.Max(hi, t); }
        if (!(hi > lo)) { hi = lo + 1; }
        const int bins = 30;
        double w = (hi - lo) / bins;
        var good = new double[bins]; var bad = new double[bins];
        foreach (var s in scores)
        {
            int b = Math.Clamp((int)((s.Score - lo) / w), 0, bins - 1);
            if (s.Truth == 1) bad[b]++; else good[b]++;
        }
        AddHistogram(plt, good, lo, w, Colors.SteelBlue.WithAlpha(0.6), "good");
        AddHistogram(plt, bad, lo, w, Colors.OrangeRed.WithAlpha(0.6), "defective");
        if (threshold is double th)
        {
            var v = plt.Add.VerticalLine(th);
            v.LinePattern = LinePattern.Dashed;
            v.Color = Colors.Black;
            v.LineWidth = 2;
            v.LegendText = $"calibrated threshold {th:G5}";
        }
        plt.Axes.Margins(bottom: 0);
        plt.ShowLegend(Alignment.UpperRight);
        return Done(plt, caption);
    }

    static void AddHistogram(Plot plt, double[] counts, double lo, double w, Color color, string label)
    {
        var bars = new List<Bar>(counts.Length);
        for (int i = 0; i < counts.Length; i++)
            bars.Add(new Bar { Position = lo + (i + 0.5) * w, Value = counts[i], Size = w, FillColor = color, LineWidth = 0 });
        var bp = plt.Add.Bars(bars);
        bp.LegendText = label;
        bp.Color = color;
    }

    /// <summary>
    /// A metric against a swept parameter, one line per category with ± sd error bars. Numeric values are placed on
    /// a log axis when they span more than a factor 20 (coreset fractions), text values are evenly spaced.
    /// </summary>
    public static Figure Sweep(IReadOnlyList<SweepSeries> series, string xLabel, string yLabel, string caption, string[]? xText = null,
        bool keyInCaption = false)
    {
        bool log = xText == null && LogAxis(series);
        var plt = NewPlot(log ? xLabel + " (log scale)" : xLabel, yLabel);
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < series.Count; i++)
        {
            var s = series[i];
            var xs = log ? s.X.Select(Math.Log10).ToArray() : s.X;
            var c = palette.GetColor(i);
            var sc = plt.Add.Scatter(xs, s.Mean, c);
            sc.LineWidth = 2;
            sc.MarkerSize = 8;
            sc.LegendText = s.Label;
            if (s.Sd.Any(d => d > 0))
            {
                var eb = plt.Add.ErrorBar(xs, s.Mean, s.Sd);
                eb.Color = c;
            }
        }
        var ticks = new List<(double, string)>();
        if (xText != null) for (int i = 0; i < xText.Length; i++) ticks.Add((i, xText[i]));
        else if (log)
            foreach (var v in series.SelectMany(s => s.X).Distinct().Order()) ticks.Add((Math.Log10(v), v.ToString("G4")));
        else
        {
            // Few whole-number values (epochs, k, patch sizes): a tick at each, not at fractions no run has.
            var values = series.SelectMany(s => s.X).Distinct().Order().ToArray();
            if (values.Length is > 0 and <= 12 && values.All(v => v == Math.Round(v)))
                foreach (var v in values) ticks.Add((v, v.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)));
        }
        if (ticks.Count > 0) plt.Axes.Bottom.SetTicks(ticks.Select(t => t.Item1).ToArray(), ticks.Select(t => t.Item2).ToArray());
        plt.Axes.Margins(horizontal: 0.1, vertical: 0.15);
        // Below the data when the labels are long or the lines span the whole height (training curves): never over a line.
        if (!keyInCaption)
        {
            plt.ShowLegend(Alignment.LowerRight);
            return Done(plt, caption);
        }
        // Long labels or lines over the whole height (training curves): the key goes into the caption, one colour per
        // line. ScottPlot's legend panel below the plot cut entries off past the fourth at this image size.
        plt.HideLegend();
        var key = new List<string>();
        for (int i = 0; i < series.Count; i++) key.Add($"{PaletteNames[i % PaletteNames.Length]}: {series[i].Label}");
        return Done(plt, caption + " Lines — " + string.Join("; ", key) + ".");
    }

    static bool LogAxis(IReadOnlyList<SweepSeries> series)
    {
        var xs = series.SelectMany(s => s.X).ToArray();
        return xs.Length > 1 && xs.All(x => x > 0) && xs.Max() / xs.Min() > 20;
    }

    /// <summary>Stacked bars: one bar per group (a backend), one segment per stage, seconds.</summary>
    public static Figure StackedTimings(IReadOnlyList<string> groups, IReadOnlyList<string> stages, double[,] seconds, string caption)
    {
        var plt = NewPlot("backend", "time (s), mean over runs");
        var palette = new ScottPlot.Palettes.Category10();
        var bars = new List<Bar>();
        for (int g = 0; g < groups.Count; g++)
        {
            double baseV = 0;
            for (int s = 0; s < stages.Count; s++)
            {
                double v = seconds[g, s];
                bars.Add(new Bar { Position = g, ValueBase = baseV, Value = baseV + v, FillColor = palette.GetColor(s), Size = 0.6 });
                baseV += v;
            }
        }
        plt.Add.Bars(bars);
        for (int s = 0; s < stages.Count; s++)
            plt.Legend.ManualItems.Add(new LegendItem { LabelText = stages[s], FillColor = palette.GetColor(s) });
        plt.Axes.Bottom.SetTicks(Enumerable.Range(0, groups.Count).Select(i => (double)i).ToArray(), groups.ToArray());
        plt.Axes.Margins(left: 0.3, right: 0.3, bottom: 0, top: 0.1);
        plt.ShowLegend(Edge.Right); // outside the axes: a legend inside would hide the bars
        return Done(plt, caption);
    }
}
