namespace PatchCore.Backends;

/// <summary>Geometry of one 2-D convolution. Pads may be asymmetric (CNTK exports pad 3,3,2,2 etc.).</summary>
public sealed record ConvSpec(int InChannels, int OutChannels, int KernelH, int KernelW, int Stride,
    int PadTop, int PadLeft, int PadBottom, int PadRight)
{
    public int OutH(int h) => (h + PadTop + PadBottom - KernelH) / Stride + 1;
    public int OutW(int w) => (w + PadLeft + PadRight - KernelW) / Stride + 1;
    public long WeightLength => (long)OutChannels * InChannels * KernelH * KernelW;
    /// <summary>Multiply-adds for one image of the given input size.</summary>
    public long Macs(int h, int w) => (long)OutH(h) * OutW(w) * OutChannels * InChannels * KernelH * KernelW;
}

/// <summary>Max or average pooling window. Padded cells are ignored by max pooling (as -inf); average
/// pooling counts them as zeros (count_include_pad, as PyTorch's default and the 3x3 anomalib aggregation).</summary>
public sealed record PoolSpec(int Kernel, int Stride, int PadTop, int PadLeft, int PadBottom, int PadRight)
{
    public int OutH(int h) => (h + PadTop + PadBottom - Kernel) / Stride + 1;
    public int OutW(int w) => (w + PadLeft + PadRight - Kernel) / Stride + 1;
}

/// <summary>How layer2 and layer3 maps become one feature vector per layer2 grid cell.</summary>
public enum AggregationMode
{
    /// <summary>Official PatchCore: 3x3 unfold, layer3 bilinearly upsampled to layer2's grid, adaptive average
    /// pooling of each layer's C*9 vector to PretrainDim, then of the stacked vectors to TargetDim.</summary>
    Official,
    /// <summary>anomalib: 3x3 average pool (stride 1, pad 1) per layer, layer3 nearest-upsampled, channels
    /// concatenated (no dimension reduction).</summary>
    Anomalib,
}

/// <summary>Parameters of the patch-feature aggregation (ALGORITHM.md, "Patch features").</summary>
public sealed record AggregationSpec(AggregationMode Mode = AggregationMode.Official, int PatchSize = 3,
    int PretrainDim = 1024, int TargetDim = 1024)
{
    /// <summary>Feature dimension the aggregation produces for the given layer widths.</summary>
    public int OutputDim(int layer2Channels, int layer3Channels) =>
        Mode == AggregationMode.Official ? TargetDim : layer2Channels + layer3Channels;
}
