using System.Reflection;
using SkiaSharp;

namespace PatchCore.ReportDocument.Render;

/// <summary>
/// The DejaVu fonts (Debian fonts-dejavu-core 2.37; free licence in Fonts/LICENSE-DejaVu.txt) embedded in this
/// assembly, so plots and the PDF look the same on every machine and need no system font or fontconfig.
/// </summary>
public static class EmbeddedFonts
{
    public const string Family = "DejaVu Sans";
    public const string MonoFamily = "DejaVu Sans Mono";

    public static byte[] Regular => Load("DejaVuSans.ttf");
    public static byte[] Bold => Load("DejaVuSans-Bold.ttf");
    public static byte[] Mono => Load("DejaVuSansMono.ttf");

    static readonly Dictionary<string, byte[]> Cache = [];

    static byte[] Load(string file)
    {
        lock (Cache)
        {
            if (Cache.TryGetValue(file, out var b)) return b;
            using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream("PatchCore.ReportDocument.Fonts." + file)
                ?? throw new InvalidOperationException($"font {file} is not embedded");
            using var ms = new MemoryStream();
            s.CopyTo(ms);
            return Cache[file] = ms.ToArray();
        }
    }

    static SKTypeface? regular, bold;

    /// <summary>Skia typefaces for ScottPlot (created once; Skia keeps its own copy of the bytes).</summary>
    public static SKTypeface Typeface(bool isBold)
    {
        lock (Cache)
        {
            if (isBold) return bold ??= SKTypeface.FromData(SKData.CreateCopy(Bold));
            return regular ??= SKTypeface.FromData(SKData.CreateCopy(Regular));
        }
    }
}

/// <summary>ScottPlot's font lookup answered from the embedded DejaVu, whatever family a plot asks for.</summary>
sealed class ScottPlotFonts : ScottPlot.IFontResolver
{
    static int installed;

    public static void Install()
    {
        if (Interlocked.Exchange(ref installed, 1) == 1) return;
        ScottPlot.Fonts.FontResolvers.Insert(0, new ScottPlotFonts());
        ScottPlot.Fonts.Default = EmbeddedFonts.Family;
    }

    public SKTypeface? CreateTypeface(string fontName, bool bold, bool italic) => EmbeddedFonts.Typeface(bold);

    public SKTypeface? CreateTypeface(string fontName, ScottPlot.FontWeight weight, ScottPlot.FontSlant slant, ScottPlot.FontSpacing spacing) =>
        EmbeddedFonts.Typeface((int)weight >= (int)ScottPlot.FontWeight.SemiBold);
}
