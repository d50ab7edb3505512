namespace PatchCore.ReportDocument.Document;

/// <summary>
/// The report as a renderer-independent document: sections of blocks. The HTML and PDF renderers walk the same
/// tree, so both outputs hold the same tables, figures and captions (and tests can check the structure once).
/// </summary>
public sealed record ReportContent(string Title, string Subtitle, IReadOnlyList<Section> Sections);

/// <summary>A section; <see cref="Level"/> 1 is a chapter, 2 a subsection.</summary>
public sealed record Section(string Id, string Title, int Level, IReadOnlyList<Block> Blocks);

public abstract record Block;

/// <summary>Plain text (no markup).</summary>
public sealed record Paragraph(string Text) : Block;

/// <summary>A table with its caption (numbered "Table N" by the renderer).</summary>
public sealed record Table(string Caption, IReadOnlyList<string> Header, IReadOnlyList<IReadOnlyList<string>> Rows) : Block;

/// <summary>A figure: a PNG with its pixel size and caption (numbered "Figure N" by the renderer).</summary>
public sealed record Figure(string Caption, byte[] Png, int Width, int Height) : Block;

/// <summary>Several small images side by side with one caption (the heat-map gallery), each with a label.</summary>
public sealed record Gallery(string Caption, IReadOnlyList<GalleryImage> Images) : Block;

public sealed record GalleryImage(string Label, byte[] Png);

/// <summary>Preformatted text (configurations), with a caption.</summary>
public sealed record Code(string Caption, string Text) : Block;

/// <summary>Markdown prose (the optional --prose file): Markdig for HTML, a simple block renderer for the PDF.</summary>
public sealed record Prose(string Markdown) : Block;
