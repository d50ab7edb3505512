using CommandLine;

namespace PatchCore.Cli.Commands;

[Verb("fit", HelpText = "Learn a memory bank and write the deployable model file (.pcm).")]
public sealed class FitCommand : ICommand
{
    public int Execute() => throw new NotImplementedException("fit");
}
