using PdfSharp.Fonts;

namespace PatchCore.ReportDocument.Render;

/// <summary>
/// PDFsharp's font lookup answered from the embedded DejaVu (PDFsharp's core build finds no system fonts on Linux,
/// and a report must not depend on them anyway). Any family maps to DejaVu Sans, except the mono family.
/// </summary>
sealed class PdfFonts : IFontResolver
{
    static readonly object Gate = new();

    /// <summary>PDFsharp holds one resolver per process, settable once before first use: install ours if none is.</summary>
    public static void Install()
    {
        lock (Gate)
        {
            if (GlobalFontSettings.FontResolver is PdfFonts) return;
            if (GlobalFontSettings.FontResolver != null)
                throw new InvalidOperationException("another PDFsharp font resolver is installed in this process");
            GlobalFontSettings.FontResolver = new PdfFonts();
        }
    }

    public FontResolverInfo? ResolveTypeface(string familyName, bool isBold, bool isItalic)
    {
        if (familyName.Equals(EmbeddedFonts.MonoFamily, StringComparison.OrdinalIgnoreCase)) return new FontResolverInfo("mono");
        // No italic face is embedded: PDFsharp simulates italics when asked (rare in a report).
        return new FontResolverInfo(isBold ? "bold" : "regular", false, isItalic);
    }

    public byte[]? GetFont(string faceName) => faceName switch
    {
        "bold" => EmbeddedFonts.Bold,
        "mono" => EmbeddedFonts.Mono,
        _ => EmbeddedFonts.Regular,
    };
}
