namespace PatchCore.Data;

/// <summary>How an image becomes the backbone input. Official: shorter side to 256, centre crop 224.
/// anomalib: both sides to Resize (SquareResize = true), Crop = Resize.</summary>
public sealed record ResizeSpec(int Resize = 256, int Crop = 224, bool SquareResize = false);
