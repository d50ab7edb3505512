namespace PatchCore.Weights;

/// <summary>
/// A weight file as bytes inside another file (a model file embeds the backbone it needs), and the cut that is
/// embedded: the net up to layer3, all PatchCore reads (ResNet18: 11 MB instead of 45 MB).
/// </summary>
public static class WeightBytes
{
    /// <summary>Stages PatchCore uses (layer2 and layer3 features, so layer1..layer3).</summary>
    public const int PatchCoreStages = 3;

    /// <summary>The weights cut after layer3, keeping the identity of the file they were cut from: features
    /// from the cut are those of the whole file, so a model fitted with the whole file scores the same with it.</summary>
    public static WeightFile PatchCoreCut(WeightFile w)
    {
        if (w.Metadata.BlocksPerStage.Length <= PatchCoreStages) return w;
        var cut = w.TruncateStages(PatchCoreStages);
        return new WeightFile(cut.Metadata, cut.Tensors, w.Identity);
    }

    /// <summary>The safetensors bytes of <paramref name="w"/> (validated first, as <see cref="WeightFile.Save"/> does).</summary>
    public static byte[] Serialize(WeightFile w, string what)
    {
        WeightValidation.Validate(w.Metadata, w.Tensors, what);
        using var ms = new MemoryStream();
        Safetensors.Write(ms, w.Tensors, WeightMetadataCodec.ToStrings(w.Metadata));
        return ms.ToArray();
    }

    /// <summary>Weights from safetensors bytes; <paramref name="source"/> names them in errors (file and section),
    /// <paramref name="identity"/> is the SHA-256 of the weight file they stand for.</summary>
    public static WeightFile Parse(byte[] bytes, string source, string identity)
    {
        using var ms = new MemoryStream(bytes, writable: false);
        var (tensors, strings) = Safetensors.Read(ms, source, null);
        var metadata = WeightMetadataCodec.FromStrings(strings, source);
        WeightValidation.Validate(metadata, tensors, source);
        return new WeightFile(metadata, tensors, identity);
    }
}
