using PatchCore.FineTuning;

namespace PatchCore.Tests.FineTuning;

/// <summary>The contrastive task's augmentations: identity settings give the input back, outputs stay in bounds,
/// the same seed gives the same result.</summary>
public class ImageAugmentationTests
{
    const int H = 12, W = 10;

    /// <summary>Normalised planes of an RGB image with values in [0, 1] (ImageNet mean/std).</summary>
    static float[] Image(int seed)
    {
        var rng = new Random(seed);
        var p = new float[3 * H * W];
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < H * W; i++)
                p[c * H * W + i] = ((float)rng.NextDouble() - ImageAugmentation.ImageNetMean[c]) / ImageAugmentation.ImageNetStd[c];
        return p;
    }

    [Fact]
    public void FullCropWithoutFlipGivesTheInputBack()
    {
        var x = Image(1);
        var y = new float[x.Length];
        ImageAugmentation.ResizedCrop(x, y, H, W, (0, 0, H, W), flip: false);
        Assert.Equal(x, y);
    }

    [Fact]
    public void FlipMirrorsRowsAndTwiceIsIdentity()
    {
        var x = Image(2);
        var once = new float[x.Length];
        var twice = new float[x.Length];
        ImageAugmentation.ResizedCrop(x, once, H, W, (0, 0, H, W), flip: true);
        ImageAugmentation.ResizedCrop(once, twice, H, W, (0, 0, H, W), flip: true);
        Assert.Equal(x[2 * H * W + 3 * W + 1], once[2 * H * W + 3 * W + (W - 2)]);
        Assert.NotEqual(x, once);
        Assert.Equal(x, twice);
    }

    [Fact]
    public void CropBoxesStayInsideTheImageAndTheScaleRange()
    {
        var rng = new Random(3);
        for (int t = 0; t < 300; t++)
        {
            var (top, left, h, w) = ImageAugmentation.CropBox(64, 48, 0.3, 0.6, 0.75, 4.0 / 3, rng);
            Assert.InRange(top, 0, 64 - h);
            Assert.InRange(left, 0, 48 - w);
            // Rounding each side moves the area by at most about a side's length.
            Assert.InRange(h * w, 0.3 * 64 * 48 - 64 - 48, 0.6 * 64 * 48 + 64 + 48);
        }
        // An impossible ratio range falls back to the central crop clamped to the range.
        var box = ImageAugmentation.CropBox(20, 10, 0.9, 1, 3, 3, new Random(4));
        Assert.Equal((8, 0, 3, 10), box);
    }

    [Fact]
    public void ResizedCropOfAConstantImageIsConstantAndInterpolatesWithinRange()
    {
        var x = Image(5);
        var y = new float[x.Length];
        ImageAugmentation.ResizedCrop(x, y, H, W, (2, 3, 5, 4), flip: false);
        for (int c = 0; c < 3; c++)
        {
            float lo = float.MaxValue, hi = float.MinValue;
            for (int r = 2; r < 7; r++) for (int q = 3; q < 7; q++) { lo = Math.Min(lo, x[c * H * W + r * W + q]); hi = Math.Max(hi, x[c * H * W + r * W + q]); }
            for (int i = 0; i < H * W; i++) Assert.InRange(y[c * H * W + i], lo - 1e-5f, hi + 1e-5f);
        }
        var flat = Enumerable.Repeat(0.25f, x.Length).ToArray();
        ImageAugmentation.ResizedCrop(flat, y, H, W, (1, 1, 7, 3), flip: true);
        Assert.All(y, v => Assert.Equal(0.25f, v, 6));
    }

    [Fact]
    public void ColorJitterOfStrengthZeroLeavesThePlanesAlone()
    {
        var x = Image(6);
        var y = (float[])x.Clone();
        ImageAugmentation.ColorJitter(y, H, W, 0, 0, 0, ImageAugmentation.ImageNetMean, ImageAugmentation.ImageNetStd, new Random(7));
        Assert.Equal(x, y);
    }

    [Fact]
    public void ColorJitterStaysInRgbRangeChangesTheImageAndIsSeeded()
    {
        var x = Image(8);
        var a = (float[])x.Clone();
        var b = (float[])x.Clone();
        ImageAugmentation.ColorJitter(a, H, W, 0.8, 0.8, 0.8, ImageAugmentation.ImageNetMean, ImageAugmentation.ImageNetStd, new Random(9));
        ImageAugmentation.ColorJitter(b, H, W, 0.8, 0.8, 0.8, ImageAugmentation.ImageNetMean, ImageAugmentation.ImageNetStd, new Random(9));
        Assert.Equal(a, b);
        Assert.NotEqual(x, a);
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < H * W; i++)
                Assert.InRange(a[c * H * W + i] * ImageAugmentation.ImageNetStd[c] + ImageAugmentation.ImageNetMean[c], -1e-5f, 1 + 1e-5f);
    }

    [Fact]
    public void CutMixOfAreaZeroIsTheFirstImage()
    {
        var a = Image(10);
        var b = Image(11);
        var y = new float[a.Length];
        var box = ImageAugmentation.CutMix(a, b, y, H, W, 0, 0, new Random(12));
        Assert.Equal(0, box.Height * box.Width);
        Assert.Equal(a, y);
    }

    [Fact]
    public void CutMixPastesOneRectangleOfTheSecondImageAndIsSeeded()
    {
        var a = Image(13);
        var b = Image(14);
        var y = new float[a.Length];
        var y2 = new float[a.Length];
        for (int seed = 0; seed < 20; seed++)
        {
            var box = ImageAugmentation.CutMix(a, b, y, H, W, 0.1, 0.3, new Random(seed));
            var box2 = ImageAugmentation.CutMix(a, b, y2, H, W, 0.1, 0.3, new Random(seed));
            Assert.Equal(box, box2);
            Assert.Equal(y, y2);
            Assert.InRange(box.Height * box.Width, 1, (int)(0.3 * H * W * 1.5) + H + W);
            Assert.InRange(box.Top + box.Height, 1, H);
            Assert.InRange(box.Left + box.Width, 1, W);
            // Outside the box: a; inside: a rectangle of b (found by its top-left value, then checked whole).
            int changed = 0;
            for (int c = 0; c < 3; c++)
                for (int r = 0; r < H; r++)
                    for (int q = 0; q < W; q++)
                    {
                        bool inside = r >= box.Top && r < box.Top + box.Height && q >= box.Left && q < box.Left + box.Width;
                        if (!inside) Assert.Equal(a[c * H * W + r * W + q], y[c * H * W + r * W + q]);
                        else changed++;
                    }
            Assert.Equal(3 * box.Height * box.Width, changed);
            Assert.True(FoundIn(b, y, box), $"seed {seed}: pasted box is not a rectangle of b");
        }
    }

    static bool FoundIn(float[] b, float[] y, (int Top, int Left, int Height, int Width) box)
    {
        for (int sy = 0; sy + box.Height <= H; sy++)
            for (int sx = 0; sx + box.Width <= W; sx++)
            {
                bool all = true;
                for (int c = 0; c < 3 && all; c++)
                    for (int r = 0; r < box.Height && all; r++)
                        for (int q = 0; q < box.Width && all; q++)
                            all = b[c * H * W + (sy + r) * W + sx + q] == y[c * H * W + (box.Top + r) * W + box.Left + q];
                if (all) return true;
            }
        return false;
    }
}
