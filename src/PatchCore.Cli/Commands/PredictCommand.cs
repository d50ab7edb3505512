using CommandLine;

namespace PatchCore.Cli.Commands;

[Verb("predict", HelpText = "Score new images (no labels) with a model file; write scores and heat maps.")]
public sealed class PredictCommand : ICommand
{
    public int Execute() => throw new NotImplementedException("predict");
}
