using CommandLine;

namespace PatchCore.Cli.Commands;

[Verb("features", HelpText = "Write the preprocessed input and the layer2/layer3 maps of one image to a safetensors file.")]
public sealed class FeaturesCommand : ICommand
{
    public int Execute() => throw new NotImplementedException("features");
}
