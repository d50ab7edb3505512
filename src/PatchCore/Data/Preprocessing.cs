using StbImageSharp;

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
    /// <summary>Decode PNG/JPEG (8-bit gray, RGB, RGBA, 16-bit PNG) to RGB. One clear error naming the file.
    /// stb_image semantics: gray (and gray+alpha) is replicated to R=G=B, alpha is dropped (not composited,
    /// as PIL's convert("RGB")), 16-bit samples keep their high byte (v &gt;&gt; 8; PIL would clip 16-bit gray
    /// to 255 instead, MVTec has no 16-bit images).</summary>
    public static RgbImage Decode(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        return Decode(bytes, path);
    }

    /// <summary>Decode image bytes; <paramref name="name"/> is what errors call the image.</summary>
    public static RgbImage Decode(byte[] bytes, string name)
    {
        // TIFF and WebP are told by their magic bytes (stb_image reads neither).
        if (IO.TiffDecoder.IsTiff(bytes)) { var (w, h, px) = IO.TiffDecoder.Decode(bytes, name); return new RgbImage(w, h, px); }
        if (bytes.Length >= 12 && "RIFF"u8.SequenceEqual(bytes.AsSpan(0, 4)) && "WEBP"u8.SequenceEqual(bytes.AsSpan(8, 4)))
            throw new InvalidDataException($"{name}: WebP is not supported; convert to PNG");
        IO.ImageSizeGuard.Check(bytes, name);
        ImageResult result;
        try
        {
            result = ImageResult.FromStream(new IO.ClampedMemoryStream(bytes), ColorComponents.RedGreenBlue); // clamped: see its comment
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{name}: cannot decode image ({IO.ErrorText.OneLine(e.Message)})", e);
        }
        if (result?.Data == null || result.Width < 1 || result.Height < 1 || result.Data.Length != (long)result.Width * result.Height * 3)
            throw new InvalidDataException($"{name}: cannot decode image (no pixel data)");
        return new RgbImage(result.Width, result.Height, result.Data);
    }
}

public static class Preprocessing
{
    /// <summary>Resize (bilinear, antialiased when shrinking, as PIL) and centre-crop to RGB bytes [Crop*Crop*3].</summary>
    public static RgbImage ResizeAndCrop(RgbImage image, ResizeSpec spec)
    {
        var bytes = ResizeAndCrop(image.Pixels, image.Width, image.Height, 3, spec);
        return new RgbImage(spec.Crop, spec.Crop, bytes);
    }

    /// <summary>The resized size before the crop: torchvision Resize(int) sets the shorter side to Resize and
    /// the longer to int(Resize * long / short) (truncated); SquareResize gives Resize x Resize.</summary>
    public static (int Width, int Height) ResizedSize(int width, int height, ResizeSpec spec)
    {
        if (spec.Resize < 1 || spec.Crop < 1) throw new ArgumentException($"resize {spec.Resize} and crop {spec.Crop} must be positive");
        if (spec.SquareResize) return (spec.Resize, spec.Resize);
        if (width <= height) return (spec.Resize, (int)((double)spec.Resize * height / width));
        return ((int)((double)spec.Resize * width / height), spec.Resize);
    }

    /// <summary>Top-left corner of torchvision's CenterCrop: round((size - crop) / 2), Python's round (half to even).</summary>
    public static (int Left, int Top) CropOrigin(int width, int height, int crop)
    {
        if (crop > width || crop > height) throw new ArgumentException($"crop {crop} is larger than the resized image {width}x{height}");
        return ((int)Math.Round((width - crop) / 2.0, MidpointRounding.ToEven), (int)Math.Round((height - crop) / 2.0, MidpointRounding.ToEven));
    }

    static byte[] ResizeAndCrop(byte[] pixels, int w, int h, int channels, ResizeSpec spec)
    {
        var (rw, rh) = ResizedSize(w, h, spec);
        var (left, top) = CropOrigin(rw, rh, spec.Crop);
        byte[] resized = PilResize.Resize(pixels, w, h, channels, rw, rh);
        int crop = spec.Crop;
        var outBytes = new byte[crop * crop * channels];
        for (int y = 0; y < crop; y++)
            Array.Copy(resized, ((long)(top + y) * rw + left) * channels, outBytes, (long)y * crop * channels, crop * channels);
        return outBytes;
    }

    /// <summary>Raw image → resize + centre crop (<see cref="ResizeAndCrop(RgbImage, ResizeSpec)"/>) → normalised
    /// CHW float tensor [3, Crop, Crop] in the net's channel order.</summary>
    public static float[] ToInput(RgbImage image, ResizeSpec spec, Normalization norm) =>
        Normalize(ResizeAndCrop(image, spec), norm);

    /// <summary>Already resized/cropped RGB bytes → CHW floats: plane c of the net's order takes its RGB channel,
    /// value = (pixel / PixelScale - Mean[c]) / Std[c].</summary>
    public static float[] Normalize(RgbImage image, Normalization norm)
    {
        int[] srcChannel = norm.ChannelOrder switch
        {
            "RGB" => [0, 1, 2],
            "BGR" => [2, 1, 0],
            _ => throw new ArgumentException($"channel order '{norm.ChannelOrder}' is neither RGB nor BGR"),
        };
        int n = image.Width * image.Height;
        var result = new float[3 * n];
        byte[] px = image.Pixels;
        for (int c = 0; c < 3; c++)
        {
            int sc = srcChannel[c];
            float scale = norm.PixelScale, mean = norm.Mean[c], std = norm.Std[c];
            var plane = result.AsSpan(c * n, n);
            for (int i = 0; i < n; i++) plane[i] = (px[i * 3 + sc] / scale - mean) / std;
        }
        return result;
    }

    /// <summary>Ground-truth mask → [Crop*Crop] booleans: same resize and crop, anomalous where the resized mask ≥ 0.5.
    /// The mask's gray value (its R channel; masks are gray) is resized as an 8-bit plane exactly like the image,
    /// then v / 255 ≥ 0.5, i.e. v ≥ 128.</summary>
    public static bool[] ToMask(RgbImage mask, ResizeSpec spec)
    {
        var gray = new byte[mask.Width * mask.Height];
        for (int i = 0; i < gray.Length; i++) gray[i] = mask.Pixels[i * 3];
        var resized = ResizeAndCrop(gray, mask.Width, mask.Height, 1, spec);
        var result = new bool[resized.Length];
        for (int i = 0; i < resized.Length; i++) result[i] = resized[i] / 255f >= 0.5f;
        return result;
    }
}
