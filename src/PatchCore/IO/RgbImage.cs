namespace PatchCore.IO;

/// <summary>Decoded 8-bit image, interleaved RGB (gray and RGBA already converted), row-major.</summary>
public sealed record RgbImage(int Width, int Height, byte[] Pixels);
