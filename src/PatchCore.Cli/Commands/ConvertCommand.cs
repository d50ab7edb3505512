using CommandLine;

namespace PatchCore.Cli.Commands;

[Verb("convert", HelpText = "Convert backbone weights (ONNX, torchvision state dict export) to pcnative safetensors.")]
public sealed class ConvertCommand : ICommand
{
    public int Execute() => throw new NotImplementedException("convert");
}
