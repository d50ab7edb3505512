using System.Globalization;
using CommandLine;
using PatchCore.Weights;
using PatchCore.Weights.Onnx;

namespace PatchCore.Cli.Commands;

/// <summary>
/// pcnative convert onnx &lt;model.onnx&gt; [--preprocess &lt;prep.onnx&gt;] --out weights/x.safetensors [--name x]
/// pcnative convert torchvision &lt;state.safetensors&gt; --arch resnet18|resnet34|resnet50|wide_resnet50_2 --out ...
/// </summary>
[Verb("convert", HelpText = "Convert backbone weights (ONNX, torchvision state dict export) to pcnative safetensors.")]
public sealed class ConvertCommand : ICommand
{
    [Value(0, MetaName = "kind", Required = true, HelpText = "Source kind: onnx, torchvision, or weights (an existing pcnative file, e.g. to cut it with --stages).")]
    public string Kind { get; set; } = "";

    [Value(1, MetaName = "source", Required = true, HelpText = "ONNX model file, or safetensors state dict from tools/export_torchvision.py.")]
    public string Source { get; set; } = "";

    [Option("out", Required = true, HelpText = "Output weight file (.safetensors).")]
    public string Out { get; set; } = "";

    [Option("name", HelpText = "Architecture name stored in the file (onnx: default the model's file name; torchvision: the --arch).")]
    public string? Name { get; set; }

    [Option("preprocess", HelpText = "onnx: preprocessing graph holding the input normalisation (e.g. ResNetPreprocess.onnx: BGR, 0..255, mean image).")]
    public string? Preprocess { get; set; }

    [Option("arch", HelpText = "torchvision: resnet18, resnet34, resnet50, wide_resnet50_2 (also resnet101, resnet152, wide_resnet101_2).")]
    public string? Arch { get; set; }

    [Option("channel-order", HelpText = "onnx without --preprocess: RGB or BGR (default RGB).")]
    public string? ChannelOrder { get; set; }

    [Option("pixel-scale", HelpText = "onnx without --preprocess: pixels are divided by this (default 255).")]
    public float? PixelScale { get; set; }

    [Option("mean", HelpText = "onnx without --preprocess: 3 comma-separated means in the net's channel order (default ImageNet 0.485,0.456,0.406).")]
    public string? Mean { get; set; }

    [Option("std", HelpText = "onnx without --preprocess: 3 comma-separated stds (default ImageNet 0.229,0.224,0.225).")]
    public string? Std { get; set; }

    [Option("stages", HelpText = "Keep only the first N stages (3: layer1-layer3, all PatchCore uses; a quarter of the file).")]
    public int? Stages { get; set; }

    public int Execute()
    {
        if (!File.Exists(Source)) throw new UserError($"{Source}: file not found");
        WeightFile weights;
        switch (Kind.ToLowerInvariant())
        {
            case "onnx":
                if (Arch != null) throw new UserError("--arch is for 'convert torchvision'; the ONNX structure is read from the graph");
                InputNormalization norm;
                if (Preprocess != null)
                {
                    if (!File.Exists(Preprocess)) throw new UserError($"{Preprocess}: file not found");
                    if (ChannelOrder != null || PixelScale != null || Mean != null || Std != null)
                        throw new UserError("--preprocess already gives the normalisation; drop --channel-order/--pixel-scale/--mean/--std");
                    norm = OnnxPreprocess.Read(Preprocess);
                }
                else
                {
                    norm = new InputNormalization((ChannelOrder ?? "RGB").ToUpperInvariant(), PixelScale ?? 255f,
                        Floats(Mean, "--mean") ?? [0.485f, 0.456f, 0.406f], Floats(Std, "--std") ?? [0.229f, 0.224f, 0.225f]);
                }
                string source = $"{Path.GetFileName(Source)} sha256:{WeightFile.HashFile(Source)}"
                    + (Preprocess != null ? $"; {Path.GetFileName(Preprocess)} sha256:{WeightFile.HashFile(Preprocess)}" : "");
                weights = OnnxResNetConverter.Convert(Source, Name ?? Path.GetFileNameWithoutExtension(Source).ToLowerInvariant(), norm, source);
                break;
            case "torchvision":
                if (Arch == null) throw new UserError("convert torchvision needs --arch (resnet18, resnet34, resnet50, wide_resnet50_2)");
                if (Preprocess != null) throw new UserError("--preprocess is for 'convert onnx'");
                weights = TorchvisionConverter.Convert(Source, Arch);
                if (Name != null) weights = new WeightFile(weights.Metadata with { Architecture = Name }, weights.Tensors);
                break;
            case "weights":
                // An existing pcnative weight file, re-saved (with --stages: cut after that stage).
                weights = WeightFile.Load(Source);
                break;
            default:
                throw new UserError($"unknown source kind '{Kind}' (expected onnx, torchvision or weights)");
        }
        if (Stages is int stages) weights = weights.TruncateStages(stages);
        weights.Save(Out);
        var m = weights.Metadata;
        Console.WriteLine($"wrote {Out}: {m.Architecture}, {m.Block} blocks [{string.Join(",", m.BlocksPerStage)}], " +
                          $"widths [{string.Join(",", m.StageWidths)}], {weights.Tensors.Count} tensors, input {m.ChannelOrder} /{m.PixelScale} " +
                          $"mean [{string.Join(",", m.Mean.Select(v => v.ToString("0.###", CultureInfo.InvariantCulture)))}]");
        return 0;
    }

    static float[]? Floats(string? text, string option)
    {
        if (text == null) return null;
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var v = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out v[i]))
                throw new UserError($"{option}: '{parts[i]}' is not a number");
        if (v.Length != 3) throw new UserError($"{option} needs 3 comma-separated values, got {v.Length}");
        return v;
    }
}
