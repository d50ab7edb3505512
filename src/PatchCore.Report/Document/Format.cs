using System.Globalization;

namespace PatchCore.ReportDocument.Document;

/// <summary>How numbers are written in tables: metrics as percent with two decimals, seconds with one or three.</summary>
public static class Format
{
    public static string Percent(double? fraction) => fraction is double f ? (100 * f).ToString("F2", CultureInfo.InvariantCulture) : "–";

    public static string PercentSd(double mean, double sd, int n) =>
        n > 1 ? $"{(100 * mean).ToString("F2", CultureInfo.InvariantCulture)} ± {(100 * sd).ToString("F2", CultureInfo.InvariantCulture)}"
              : (100 * mean).ToString("F2", CultureInfo.InvariantCulture);

    public static string Seconds(double? s) => s is double v ? v.ToString(v < 10 ? "F3" : "F1", CultureInfo.InvariantCulture) : "–";

    public static string Number(double v) => v.ToString("G6", CultureInfo.InvariantCulture);

    public static (double Mean, double Sd) MeanSd(IReadOnlyList<double> v)
    {
        if (v.Count == 0) return (double.NaN, 0);
        double mean = v.Average();
        if (v.Count < 2) return (mean, 0);
        double ss = 0;
        foreach (double x in v) ss += (x - mean) * (x - mean);
        return (mean, Math.Sqrt(ss / (v.Count - 1)));
    }
}
