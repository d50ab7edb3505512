using PatchCore.Tensors;

namespace PatchCore.Weights;

/// <summary>
/// A torchvision ResNet state dict (exported as safetensors by tools/export_torchvision.py, or by
/// safetensors.torch.save_file) → pcnative weights: names are already torchvision's, so conversion keeps every
/// conv/BN tensor, drops num_batches_tracked and fc.*, and adds metadata: RGB input in [0,1] (scale 255),
/// ImageNet mean/std, torchvision geometry written out for every conv and the max-pool. Then validates.
/// </summary>
public static class TorchvisionConverter
{
    public static readonly string[] Architectures = ["resnet18", "resnet34", "resnet50", "wide_resnet50_2", "wide_resnet101_2", "resnet101", "resnet152"];

    /// <summary>Block type, blocks per stage and stage widths of a torchvision architecture.</summary>
    public static (string Block, int[] Blocks, int[] Widths) Layout(string arch) => arch switch
    {
        "resnet18" => ("basic", [2, 2, 2, 2], [64, 128, 256, 512]),
        "resnet34" => ("basic", [3, 4, 6, 3], [64, 128, 256, 512]),
        "resnet50" or "wide_resnet50_2" => ("bottleneck", [3, 4, 6, 3], [256, 512, 1024, 2048]),
        "resnet101" or "wide_resnet101_2" => ("bottleneck", [3, 4, 23, 3], [256, 512, 1024, 2048]),
        "resnet152" => ("bottleneck", [3, 8, 36, 3], [256, 512, 1024, 2048]),
        _ => throw new ArgumentException($"unknown torchvision architecture '{arch}' (known: {string.Join(", ", Architectures)})"),
    };

    public static WeightMetadata Metadata(string arch, string source = "")
    {
        var (block, blocks, widths) = Layout(arch);
        var m = new WeightMetadata
        {
            Architecture = arch,
            Block = block,
            BlocksPerStage = blocks,
            StageWidths = widths,
            ChannelOrder = "RGB",
            PixelScale = 255f,
            Mean = [0.485f, 0.456f, 0.406f],
            Std = [0.229f, 0.224f, 0.225f],
            BatchNormEpsilon = 1e-5f,
            Source = source,
        };
        return m with { Geometry = WeightValidation.TorchvisionGeometry(m) };
    }

    public static WeightFile Convert(string statePath, string arch, string? source = null)
    {
        var (all, _) = Safetensors.Read(statePath,
            name => !name.EndsWith(".num_batches_tracked", StringComparison.Ordinal) && !name.StartsWith("fc.", StringComparison.Ordinal));
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, t) in all)
        {
            // state dicts saved from a DataParallel/compiled module carry a prefix; strip it.
            string n = name.StartsWith("module.", StringComparison.Ordinal) ? name["module.".Length..] : name;
            if (n.StartsWith("fc.", StringComparison.Ordinal)) continue;
            tensors[n] = t;
        }
        var metadata = Metadata(arch, source ?? $"{Path.GetFileName(statePath)} sha256:{WeightFile.HashFile(statePath)}");
        WeightValidation.Validate(metadata, tensors, statePath);
        // Keep exactly the tensors the net needs (any stray extras in the state dict are not ours to carry).
        var kept = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var e in WeightValidation.ExpectedTensors(metadata, tensors)) kept[e.Name] = tensors[e.Name];
        return new WeightFile(metadata, kept);
    }
}
