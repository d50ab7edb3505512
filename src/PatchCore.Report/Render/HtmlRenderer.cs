using System.Net;
using System.Text;
using Markdig;
using PatchCore.ReportDocument.Document;

namespace PatchCore.ReportDocument.Render;

/// <summary>
/// The report as one self-contained HTML file: inline CSS, every figure a base64 PNG data URI, no script and no
/// external reference, so it opens offline in any browser and can be mailed as one file. Tables and figures are
/// numbered in document order, as in the PDF.
/// </summary>
public static class HtmlRenderer
{
    const string Css = """
        body { font-family: "DejaVu Sans", Verdana, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
        h1 { border-bottom: 2px solid #444; } h2 { border-bottom: 1px solid #aaa; margin-top: 2em; } h3 { margin-top: 1.6em; }
        table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
        th, td { border: 1px solid #bbb; padding: 3px 8px; text-align: left; vertical-align: top; }
        th { background: #eee; } tr:nth-child(even) td { background: #fafafa; }
        caption { caption-side: top; text-align: left; font-size: 0.95em; padding: 4px 0; }
        figure { margin: 1em 0 2em; } figure img { max-width: 100%; border: 1px solid #ddd; }
        figcaption, caption { color: #333; } .num { font-weight: bold; }
        .gallery { display: flex; flex-wrap: wrap; gap: 10px; } .gallery div { width: 320px; font-size: 0.75em; }
        .gallery img { width: 100%; } pre { background: #f5f5f5; padding: 0.6em; font-size: 0.8em; overflow-x: auto; }
        .subtitle { color: #555; } nav li { margin: 2px 0; }
        """;

    public static string Render(ReportContent report)
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>").Append(E(report.Title))
          .Append("</title>\n<style>\n").Append(Css).Append("</style>\n</head>\n<body>\n");
        sb.Append("<h1>").Append(E(report.Title)).Append("</h1>\n<p class=\"subtitle\">").Append(E(report.Subtitle)).Append("</p>\n");
        sb.Append("<nav><h2>Contents</h2><ul>\n");
        foreach (var s in report.Sections)
            if (s.Level is 1 or 2)
                sb.Append(s.Level == 2 ? "<li style=\"margin-left:1.5em\">" : "<li>").Append("<a href=\"#").Append(E(s.Id)).Append("\">")
                  .Append(E(s.Title)).Append("</a></li>\n");
        sb.Append("</ul></nav>\n");

        int table = 0, figure = 0;
        var pipeline = new MarkdownPipelineBuilder().UseAdvancedExtensions().Build();
        foreach (var s in report.Sections)
        {
            sb.Append("<section id=\"").Append(E(s.Id)).Append("\">\n");
            if (s.Level > 0) sb.Append(s.Level == 1 ? "<h2>" : "<h3>").Append(E(s.Title)).Append(s.Level == 1 ? "</h2>\n" : "</h3>\n");
            foreach (var b in s.Blocks)
            {
                switch (b)
                {
                    case Paragraph p:
                        sb.Append("<p>").Append(E(p.Text)).Append("</p>\n");
                        break;
                    case Table t:
                        sb.Append("<table>\n<caption><span class=\"num\">Table ").Append(++table).Append(".</span> ").Append(E(t.Caption)).Append("</caption>\n<tr>");
                        foreach (var h in t.Header) sb.Append("<th>").Append(E(h)).Append("</th>");
                        sb.Append("</tr>\n");
                        foreach (var row in t.Rows)
                        {
                            sb.Append("<tr>");
                            foreach (var c in row) sb.Append("<td>").Append(E(c)).Append("</td>");
                            sb.Append("</tr>\n");
                        }
                        sb.Append("</table>\n");
                        break;
                    case Figure f:
                        sb.Append("<figure>\n<img alt=\"").Append(E(f.Caption)).Append("\" width=\"").Append(f.Width).Append("\" height=\"").Append(f.Height)
                          .Append("\" src=\"data:image/png;base64,").Append(Convert.ToBase64String(f.Png)).Append("\">\n<figcaption><span class=\"num\">Figure ")
                          .Append(++figure).Append(".</span> ").Append(E(f.Caption)).Append("</figcaption>\n</figure>\n");
                        break;
                    case Gallery g:
                        sb.Append("<figure>\n<div class=\"gallery\">\n");
                        foreach (var img in g.Images)
                            sb.Append("<div><img alt=\"").Append(E(img.Label)).Append("\" src=\"data:image/png;base64,").Append(Convert.ToBase64String(img.Png))
                              .Append("\"><br>").Append(E(img.Label)).Append("</div>\n");
                        sb.Append("</div>\n<figcaption><span class=\"num\">Figure ").Append(++figure).Append(".</span> ").Append(E(g.Caption)).Append("</figcaption>\n</figure>\n");
                        break;
                    case Code c:
                        sb.Append("<figure>\n<figcaption>").Append(E(c.Caption)).Append("</figcaption>\n<pre>").Append(E(c.Text)).Append("</pre>\n</figure>\n");
                        break;
                    case Prose pr:
                        // The prose is the project's own Markdown (its author is the report's author), rendered as Markdig makes it.
                        sb.Append("<div class=\"prose\">\n").Append(Markdown.ToHtml(pr.Markdown, pipeline)).Append("</div>\n");
                        break;
                }
            }
            sb.Append("</section>\n");
        }
        sb.Append("</body>\n</html>\n");
        return sb.ToString();
    }

    static string E(string s) => WebUtility.HtmlEncode(s);
}
