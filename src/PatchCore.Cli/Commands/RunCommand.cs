using CommandLine;

namespace PatchCore.Cli.Commands;

[Verb("run", HelpText = "Learn a memory bank from train/good, score every test image, write maps, metrics and a report.")]
public sealed class RunCommand : ICommand
{
    public int Execute() => throw new NotImplementedException("run");
}
