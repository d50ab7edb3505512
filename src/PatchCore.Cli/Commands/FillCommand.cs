using CommandLine;
using PatchCore.Experiments;
using PatchCore.IO;

namespace PatchCore.Cli.Commands;

[Verb("fill", HelpText = "Fill the {{SWEEP:CATEGORY[:KEY=VALUE,...]:COLUMN}} placeholders of a Markdown template from sweep summaries (experiments/regenerate.sh uses it for docs/RESULTS.md and the report's prose).")]
public sealed class FillCommand : ICommand
{
    [Value(0, MetaName = "template", Required = true, HelpText = "Markdown template with placeholders.")]
    public string Template { get; set; } = "";

    [Option("sweeps", Required = true, HelpText = "Folder holding one sweep folder per SWEEP name (each with summary.csv).")]
    public string Sweeps { get; set; } = "";

    [Option("out", Required = true, HelpText = "The filled file (written atomically).")]
    public string Out { get; set; } = "";

    public int Execute()
    {
        if (!File.Exists(Template)) throw new UserError($"{Template}: no such file");
        if (!Directory.Exists(Sweeps)) throw new UserError($"--sweeps {Sweeps}: no such folder");
        string filled = ProseNumbers.Fill(File.ReadAllText(Template), Template, Sweeps);
        AtomicFile.WriteAllText(Out, filled);
        Console.Out.WriteLine($"pcnative fill: {ProseNumbers.Names(File.ReadAllText(Template)).Count} numbers from {Sweeps} → {Out}");
        return 0;
    }
}
