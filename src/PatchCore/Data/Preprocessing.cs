namespace PatchCore.Data;

/// <summary>Decoded 8-bit image, interleaved RGB (gray and RGBA already converted), row-major.</summary>
public sealed record RgbImage(int Width, int Height, byte[] Pixels);

/// <summary>How an image becomes the backbone input. Official: shorter side to 256, centre crop 224.
/// anomalib: both sides to Resize (SquareResize = true), Crop = Resize.</summary>
public sealed record ResizeSpec(int Resize = 256, int Crop = 224, bool SquareResize = false);

/// <summary>Input normalisation of the weights: channel order, scale and per-channel mean/std (net's order).</summary>
public sealed record Normalization(string ChannelOrder, float PixelScale, float[] Mean, float[] Std)
{
    public static Normalization From(Weights.WeightMetadata m) => new(m.ChannelOrder, m.PixelScale, m.Mean, m.Std);
}

public static class ImageIO
{
    /// <summary>Decode PNG/JPEG (8-bit gray, RGB, RGBA, 16-bit PNG) to RGB. One clear error naming the file.</summary>
    public static RgbImage Decode(string path) => throw new NotImplementedException();
}

public static class Preprocessing
{
    /// <summary>Resize (bilinear, antialiased when shrinking, as PIL) and centre-crop to RGB bytes [Crop*Crop*3].</summary>
    public static RgbImage ResizeAndCrop(RgbImage image, ResizeSpec spec) => throw new NotImplementedException();

    /// <summary>Resized and cropped image → normalised CHW float tensor [3, Crop, Crop] in the net's channel order.</summary>
    public static float[] ToInput(RgbImage image, ResizeSpec spec, Normalization norm) => throw new NotImplementedException();

    /// <summary>Ground-truth mask → [Crop*Crop] booleans: same resize and crop, anomalous where the resized mask ≥ 0.5.</summary>
    public static bool[] ToMask(RgbImage mask, ResizeSpec spec) => throw new NotImplementedException();
}
