using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace PatchCore.Tests.Architecture;

/// <summary>
/// Keeps the house one-way: each folder of src/PatchCore/ may use only the folders before it in
/// <see cref="LayerOrder"/> (data flows downhill), no two folders use each other, the backend contract does not
/// know its implementations, and only the CLI picks a concrete backend. The source is read as text, with comments
/// and strings blanked (<see cref="CSharpCode"/>), so a doc comment naming a type above does not count.
/// </summary>
public class ArchitectureTests
{
    /// <summary>The folders of src/PatchCore/, lowest first: a folder may use the ones before it only.</summary>
    public static readonly string[] LayerOrder =
        ["IO", "Tensors", "Backends", "Data", "Weights", "Backbone", "Features", "FineTuning", "Coreset", "Scoring", "Metrics", "Report", "Pipeline", "Experiments"];

    /// <summary>One use of another folder: from file:line, what the code says.</summary>
    public sealed record FolderUse(string From, string To, string File, int Line, string Text)
    {
        public override string ToString() => $"{File}:{Line}: {From} uses {To} ({Text.Trim()})";
    }

    static string CoreDir => Path.Combine(TestPaths.RepoRoot, "src", "PatchCore");

    /// <summary>Every .cs of src/PatchCore/ (not bin/obj) as (path relative to src/PatchCore with '/', text).</summary>
    static List<(string Path, string Text)> CoreSources()
    {
        var files = new List<(string, string)>();
        foreach (string f in Directory.EnumerateFiles(CoreDir, "*.cs", SearchOption.AllDirectories))
        {
            string rel = Path.GetRelativePath(CoreDir, f).Replace('\\', '/');
            if (rel.StartsWith("bin/") || rel.StartsWith("obj/")) continue;
            files.Add((rel, File.ReadAllText(f)));
        }
        Assert.True(files.Count > 50, $"expected the engine's sources under {CoreDir}, found {files.Count} files");
        return files;
    }

    /// <summary>Which folders each file uses: <c>using PatchCore.X</c> (static and aliases included),
    /// fully qualified <c>PatchCore.X.</c>, and a folder's relative name <c>X.Name</c> (legal inside
    /// namespace PatchCore.*, e.g. <c>Weights.WeightMetadata</c>). A relative name counts only when Name is a
    /// type declared in folder X or one of its subfolders, so a member that happens to share a folder's name
    /// (<c>tensor.Data.Length</c>, <c>Data.AsSpan()</c>) is not taken for the folder.</summary>
    public static List<FolderUse> FindUses(IEnumerable<(string Path, string Text)> files)
    {
        var sources = new List<(string Path, string Folder, string[] Lines)>();
        var declared = new HashSet<(string Folder, string Name)>();
        var declaration = new Regex(@"\b(?:class|struct|interface|enum|record|delegate\s+\w+(?:<[^>]*>)?)\s+(\w+)");
        foreach (var (path, text) in files)
        {
            string[] parts = path.Split('/');
            if (parts.Length < 2) continue; // a file at the root of the project belongs to no folder
            string code = CSharpCode.StripCommentsAndStrings(text);
            sources.Add((path, parts[0], code.Split('\n')));
            foreach (Match m in declaration.Matches(code)) declared.Add((parts[0], m.Groups[1].Value));
            if (parts.Length > 2) declared.Add((parts[0], parts[1])); // Backends.Cpu.X, Weights.Onnx.X
        }
        var qualified = new Regex(@"\bPatchCore\.(\w+)");
        var relative = new Regex(@"(?<![\w.])(" + string.Join("|", LayerOrder) + @")\.(\w+)");
        var uses = new List<FolderUse>();
        foreach (var (path, from, lines) in sources)
        {
            for (int l = 0; l < lines.Length; l++)
            {
                foreach (Match m in qualified.Matches(lines[l])) Add(m.Groups[1].Value, l);
                if (lines[l].TrimStart().StartsWith("namespace ")) continue;
                foreach (Match m in relative.Matches(lines[l]))
                    if (declared.Contains((m.Groups[1].Value, m.Groups[2].Value))) Add(m.Groups[1].Value, l);
            }

            void Add(string to, int l)
            {
                if (to != from) uses.Add(new FolderUse(from, to, "src/PatchCore/" + path, l + 1, lines[l]));
            }
        }
        return uses;
    }

    /// <summary>Uses that go up the layer order, or into a folder that has no place in it.</summary>
    public static List<string> UpwardUses(IEnumerable<FolderUse> uses)
    {
        var bad = new List<string>();
        foreach (var u in uses)
        {
            int from = Array.IndexOf(LayerOrder, u.From), to = Array.IndexOf(LayerOrder, u.To);
            if (from < 0) bad.Add($"{u}: folder {u.From} has no place in the layer order; add it to ArchitectureTests.LayerOrder (and docs/ARCHITECTURE.md)");
            else if (to < 0) continue; // PatchCore.Tests, PatchCore.Cli, ...: other projects, checked by project references
            else if (to > from) bad.Add($"{u}: {u.To} is above {u.From} in the layer order ({string.Join(" → ", LayerOrder)})");
        }
        return bad;
    }

    /// <summary>Pairs of folders that use each other, with one use of each direction as evidence.</summary>
    public static List<string> MutualUses(IEnumerable<FolderUse> uses)
    {
        var first = new Dictionary<(string, string), FolderUse>();
        foreach (var u in uses) first.TryAdd((u.From, u.To), u);
        var bad = new List<string>();
        foreach (var ((a, b), u) in first)
            if (string.CompareOrdinal(a, b) < 0 && first.TryGetValue((b, a), out var back))
                bad.Add($"{a} and {b} use each other:\n    {u}\n    {back}");
        return bad;
    }

    static string Report(string what, List<string> bad) => $"{bad.Count} {what}:\n  " + string.Join("\n  ", bad);

    [Fact]
    public void NoFolderUsesAFolderAboveIt()
    {
        var bad = UpwardUses(FindUses(CoreSources()));
        Assert.True(bad.Count == 0, Report("uses of a folder above (data must flow downhill)", bad));
    }

    [Fact]
    public void NoTwoFoldersUseEachOther()
    {
        var bad = MutualUses(FindUses(CoreSources()));
        Assert.True(bad.Count == 0, Report("folder cycles", bad));
    }

    /// <summary>Backends/*.cs (not its subfolders) is the contract every backend implements; it must not
    /// depend on one of them, or a new backend would drag the others along.</summary>
    [Fact]
    public void TheBackendContractDoesNotUseItsImplementations()
    {
        var qualified = new Regex(@"\bPatchCore\.Backends\.(Reference|Cpu)\b");
        var relative = new Regex(@"(?<![\w.])(Reference|Cpu)\.[A-Z]|\b(ReferenceBackend|CpuBackend)\b");
        var bad = new List<string>();
        foreach (var (path, text) in CoreSources())
        {
            if (!path.StartsWith("Backends/") || path.IndexOf('/', "Backends/".Length) >= 0) continue;
            string[] lines = CSharpCode.StripCommentsAndStrings(text).Split('\n');
            for (int l = 0; l < lines.Length; l++)
                if (qualified.IsMatch(lines[l]) || relative.IsMatch(lines[l]))
                    bad.Add($"src/PatchCore/{path}:{l + 1}: the contract uses an implementation ({lines[l].Trim()})");
        }
        Assert.True(bad.Count == 0, Report("uses of Backends/Reference or Backends/Cpu by the contract in Backends/", bad));
    }

    /// <summary>Only the CLI chooses a backend; everything else takes an IBackend. A backend's own folder or
    /// project may name itself.</summary>
    [Fact]
    public void OnlyTheCliNamesAConcreteBackend()
    {
        var owners = new Dictionary<string, string>
        {
            ["CpuBackend"] = "src/PatchCore/Backends/Cpu/",
            ["ReferenceBackend"] = "src/PatchCore/Backends/Reference/",
            ["GpuBackend"] = "src/PatchCore.Gpu/",
            ["CudaBackend"] = "src/PatchCore.Cuda/",
        };
        var name = new Regex(@"\b(" + string.Join("|", owners.Keys) + @")\b");
        var bad = new List<string>();
        string src = Path.Combine(TestPaths.RepoRoot, "src");
        foreach (string f in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories))
        {
            string rel = "src/" + Path.GetRelativePath(src, f).Replace('\\', '/');
            if (rel.StartsWith("src/PatchCore.Cli/") || rel.Contains("/obj/") || rel.Contains("/bin/")) continue;
            string[] lines = CSharpCode.StripCommentsAndStrings(File.ReadAllText(f)).Split('\n');
            for (int l = 0; l < lines.Length; l++)
                foreach (Match m in name.Matches(lines[l]))
                    if (!rel.StartsWith(owners[m.Value]))
                        bad.Add($"{rel}:{l + 1}: names {m.Value} outside {owners[m.Value]} and src/PatchCore.Cli/ ({lines[l].Trim()})");
        }
        Assert.True(bad.Count == 0, Report("concrete backends named outside the CLI", bad));
    }

    /// <summary>Projects point downhill too: the engine references none of ours, the GPU backends only the
    /// engine; nothing but the tests references the CLI.</summary>
    [Fact]
    public void ProjectsReferenceOnlyTheProjectsBelowThem()
    {
        var allowed = new Dictionary<string, string[]>
        {
            ["PatchCore"] = [],
            ["PatchCore.Gpu"] = ["PatchCore"],
            ["PatchCore.Cuda"] = ["PatchCore"],
            ["PatchCore.Report"] = ["PatchCore"],
        };
        var bad = new List<string>();
        foreach (var (project, may) in allowed)
        {
            string csproj = Path.Combine(TestPaths.RepoRoot, "src", project, project + ".csproj");
            Assert.True(File.Exists(csproj), $"{csproj} not found");
            foreach (var r in XDocument.Load(csproj).Descendants("ProjectReference"))
            {
                string target = Path.GetFileNameWithoutExtension(((string?)r.Attribute("Include") ?? "").Replace('\\', '/'));
                if (Array.IndexOf(may, target) < 0)
                    bad.Add($"src/{project}/{project}.csproj references {target}; it may reference only [{string.Join(", ", may)}]");
            }
        }
        Assert.True(bad.Count == 0, Report("upward project references", bad));
    }

    /// <summary>Plots, PDF and Markdown belong to src/PatchCore.Report (the report command), never to the engine, so a
    /// model can be fitted and served without a graphics library.</summary>
    [Fact]
    public void TheEngineReferencesNoPlottingPdfOrMarkdownPackage()
    {
        string[] banned = ["ScottPlot", "SkiaSharp", "PDFsharp", "Markdig"];
        var bad = new List<string>();
        foreach (var project in new[] { "PatchCore", "PatchCore.Gpu", "PatchCore.Cuda" })
        {
            string csproj = Path.Combine(TestPaths.RepoRoot, "src", project, project + ".csproj");
            foreach (var r in XDocument.Load(csproj).Descendants("PackageReference"))
            {
                string name = (string?)r.Attribute("Include") ?? "";
                if (banned.Any(b => name.StartsWith(b, StringComparison.OrdinalIgnoreCase))) bad.Add($"src/{project}/{project}.csproj references {name}");
            }
        }
        Assert.True(bad.Count == 0, Report("graphics packages in the engine", bad));
    }

    // The checks above pass on a clean tree; these show they would fail, and on what.

    [Fact]
    public void TheCheckFindsUpwardAndMutualUsesButNotComments()
    {
        var files = new List<(string, string)>
        {
            ("Data/Images.cs", "using PatchCore.IO;\n// using PatchCore.Pipeline; (a comment)\nnamespace PatchCore.Data;\n" +
                "/// <summary>Like <see cref=\"PatchCore.Report.Heatmap\"/>.</summary>\nclass A { string s = \"PatchCore.Features.X\"; object w = Weights.WeightMetadata.X; }\n"),
            ("Weights/W.cs", "namespace PatchCore.Weights;\nclass WeightMetadata { object d = PatchCore.Data.ResizeSpec.X; }\n"),
            ("Tensors/T.cs", "namespace PatchCore.Tensors;\nclass T { float[] Data = []; long N => Data.LongLength; }\n"),
            ("Report/R.cs", "namespace PatchCore.Report;\nclass R { object p = PatchCore.Pipeline.Runner.X; }\n"),
            ("Pipeline/P.cs", "using PatchCore.Report;\nnamespace PatchCore.Pipeline;\nclass P { object c = Config.Coreset; }\n"),
        };
        var uses = FindUses(files);
        var upward = UpwardUses(uses);
        Assert.Equal(2, upward.Count);
        Assert.Contains(upward, s => s.StartsWith("src/PatchCore/Data/Images.cs:5: Data uses Weights"));
        Assert.Contains(upward, s => s.StartsWith("src/PatchCore/Report/R.cs:2: Report uses Pipeline"));
        var mutual = MutualUses(uses);
        Assert.Equal(2, mutual.Count);
        Assert.Contains(mutual, s => s.StartsWith("Data and Weights use each other") && s.Contains("src/PatchCore/Weights/W.cs:2"));
        var pr = Assert.Single(mutual, s => s.StartsWith("Pipeline and Report use each other"));
        Assert.Contains("src/PatchCore/Report/R.cs:2", pr);
        Assert.Contains("src/PatchCore/Pipeline/P.cs:1", pr);
        Assert.DoesNotContain(uses, u => u.From == "Tensors"); // the member Data is not the folder Data

        var stray = UpwardUses(FindUses([("Helpers/H.cs", "using PatchCore.IO;\nnamespace PatchCore.Helpers;\n")]));
        Assert.Contains("folder Helpers has no place in the layer order", Assert.Single(stray));
    }

    [Fact]
    public void StrippingKeepsCodeAndLinesButBlanksCommentsAndLiterals()
    {
        string src = "a /* x\n y */ b // c\n\"d\\\"e\" @\"f\"\"g\" '\"' $\"{h}\" \"\"\"\nraw \"q\"\n\"\"\" i";
        string code = CSharpCode.StripCommentsAndStrings(src);
        Assert.Equal(src.Length, code.Length);
        Assert.Equal(src.Split('\n').Length, code.Split('\n').Length);
        Assert.Equal(["a", "b", "i"], code.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries));
    }
}
