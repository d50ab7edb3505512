using PatchCore.Data;

namespace PatchCore.Weights;

/// <summary>Stride and pads (top, left, bottom, right) of one conv or pool, as the source graph wrote them.</summary>
public sealed record LayerGeometry(int Stride, int PadTop, int PadLeft, int PadBottom, int PadRight);

/// <summary>
/// What a weight file says about its network and its input, stored as strings in the safetensors
/// "__metadata__" header. Names of tensors follow torchvision (conv1, bn1, layer1.0.conv1, layer1.0.bn1,
/// layer2.0.downsample.0 / .1, ...), whatever the source; BatchNorm is stored unfolded
/// (bn.weight, bn.bias, bn.running_mean, bn.running_var) and folded when the backbone is built.
/// </summary>
public sealed record WeightMetadata
{
    /// <summary>Free-form name, e.g. "resnet18-cntk", "resnet18", "wide_resnet50_2".</summary>
    public required string Architecture { get; init; }
    /// <summary>"basic" (ResNet18/34) or "bottleneck" (ResNet50, WideResNet50-2).</summary>
    public required string Block { get; init; }
    /// <summary>Blocks per stage, e.g. 2,2,2,2 (torchvision ResNet18) or 2,2,2,3 (the CNTK ResNet18).</summary>
    public required int[] BlocksPerStage { get; init; }
    /// <summary>Output channels of each stage (64,128,256,512 for ResNet18; 256,512,1024,2048 for ResNet50).</summary>
    public required int[] StageWidths { get; init; }
    /// <summary>"RGB" or "BGR": order of the input planes.</summary>
    public required string ChannelOrder { get; init; }
    /// <summary>Pixels are divided by this before mean/std (255 for [0,1] inputs, 1 for [0,255] inputs).</summary>
    public required float PixelScale { get; init; }
    /// <summary>Per-channel mean, in the net's channel order, subtracted after scaling.</summary>
    public required float[] Mean { get; init; }
    /// <summary>Per-channel std, in the net's channel order.</summary>
    public required float[] Std { get; init; }
    public float BatchNormEpsilon { get; init; } = 1e-5f;
    /// <summary>Per-conv stride and pads by tensor prefix ("conv1", "layer2.0.conv1", "layer2.0.downsample.0")
    /// and "maxpool". Convs not listed use torchvision's geometry (pad k/2, stride from the architecture).</summary>
    public Dictionary<string, LayerGeometry> Geometry { get; init; } = new();
    /// <summary>Where the weights came from (file name and hash of the source), for the record.</summary>
    public string Source { get; init; } = "";

    /// <summary>How pixels must be normalised for this net (a method, not a property, so that record equality
    /// and printing stay those of the stored fields).</summary>
    public Normalization ToNormalization() => new(ChannelOrder, PixelScale, Mean, Std);
}
