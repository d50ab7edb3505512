using System.Text;
using Markdig;
using Markdig.Extensions.Tables;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;
using PdfSharp.Drawing;

namespace PatchCore.ReportDocument.Render;

/// <summary>
/// Markdown prose on the PDF pages: Markdig parses it (the same parser as the HTML), and this draws the blocks a
/// report's text needs: headings, paragraphs, bullet and numbered lists, quotes, code and pipe tables (as grids, like the
/// generated tables). Inline emphasis and links are drawn as their plain text.
/// </summary>
static class PdfProse
{
    public static void Draw(PdfLayout l, string markdown, XFont body, XFont h1, XFont h2, XFont mono)
    {
        var pipeline = new MarkdownPipelineBuilder().UseAdvancedExtensions().Build();
        var doc = Markdown.Parse(markdown, pipeline);
        foreach (var block in doc) DrawBlock(l, block, body, h1, h2, mono, 0);
    }

    static void DrawBlock(PdfLayout l, Block block, XFont body, XFont h1, XFont h2, XFont mono, double indent)
    {
        switch (block)
        {
            case HeadingBlock h:
                l.Need(50);
                l.Space(6);
                l.Text(InlineText(h.Inline), h.Level <= 1 ? h1 : h2, indent: indent);
                l.Space(4);
                break;
            case ParagraphBlock p:
                l.Text(InlineText(p.Inline), body, indent: indent);
                l.Space(5);
                break;
            case ListBlock list:
                int n = int.TryParse(list.OrderedStart, out int start) ? start : 1;
                foreach (var item in list.OfType<ListItemBlock>())
                {
                    string bullet = list.IsOrdered ? $"{n++}." : "•";
                    bool first = true;
                    foreach (var sub in item)
                    {
                        if (first && sub is ParagraphBlock para)
                        {
                            l.Text(bullet + " " + InlineText(para.Inline), body, indent: indent + 10);
                            l.Space(2);
                        }
                        else DrawBlock(l, sub, body, h1, h2, mono, indent + 20);
                        first = false;
                    }
                }
                l.Space(4);
                break;
            case QuoteBlock q:
                foreach (var sub in q) DrawBlock(l, sub, body, h1, h2, mono, indent + 15);
                break;
            case CodeBlock code:
                l.Text(code.Lines.ToString(), mono, indent: indent + 8);
                l.Space(6);
                break;
            case Table t:
            {
                var rows = new List<IReadOnlyList<string>>();
                IReadOnlyList<string>? header = null;
                foreach (var row in t.OfType<TableRow>())
                {
                    var cells = row.OfType<TableCell>().Select(c => string.Join(" ", c.OfType<ParagraphBlock>().Select(pb => InlineText(pb.Inline)))).ToList();
                    if (row.IsHeader && header == null) header = cells; else rows.Add(cells);
                }
                if (header != null) PdfTable.DrawGrid(l, header, rows);
                l.Space(6);
                break;
            }
            case ThematicBreakBlock:
                l.Space(8);
                break;
            case ContainerBlock c:
                foreach (var sub in c) DrawBlock(l, sub, body, h1, h2, mono, indent);
                break;
        }
    }

    static string InlineText(ContainerInline? inline)
    {
        var sb = new StringBuilder();
        Append(inline, sb);
        return sb.ToString();
    }

    static void Append(Inline? inline, StringBuilder sb)
    {
        switch (inline)
        {
            case null: return;
            case LiteralInline lit: sb.Append(lit.Content.ToString()); break;
            case CodeInline code: sb.Append(code.Content); break;
            case LineBreakInline: sb.Append(' '); break;
            case AutolinkInline auto: sb.Append(auto.Url); break;
            case HtmlInline: break;
            case ContainerInline c:
                for (var child = c.FirstChild; child != null; child = child.NextSibling) Append(child, sb);
                break;
        }
    }
}
