namespace PatchCore.ReportDocument.Document;

/// <summary>What the report includes besides the runs (every value a `pcnative report` flag).</summary>
public sealed record ReportOptions
{
    /// <summary>Title on the first page / the HTML title.</summary>
    public string Title { get; init; } = "PatchCore report";

    /// <summary>Runs that get their own section (curves, histogram, per-defect table, gallery); the rest are in the tables.</summary>
    public int MaxRunDetails { get; init; } = 12;

    /// <summary>Heat maps per gallery row: this many best and this many worst per run.</summary>
    public int GalleryImages { get; init; } = 4;

    /// <summary>Width (px) the gallery's heat maps are scaled to.</summary>
    public int GalleryWidth { get; init; } = 320;

    /// <summary>Markdown prose placed before the generated sections (null: none).</summary>
    public string? ProseMarkdown { get; init; }
}
