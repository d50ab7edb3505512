namespace PatchCore.Data;

/// <summary>Input normalisation of the weights: channel order, scale and per-channel mean/std (net's order).
/// A weight file's metadata gives it (<c>WeightMetadata.ToNormalization()</c>); Data itself knows no weights.</summary>
public sealed record Normalization(string ChannelOrder, float PixelScale, float[] Mean, float[] Std);
