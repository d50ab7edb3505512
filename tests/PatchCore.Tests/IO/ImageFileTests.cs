using PatchCore.IO;

namespace PatchCore.Tests.IO;

public class ImageFileTests
{
    [Fact]
    public void PngWrittenThenDecodedGivesThePixelsBack()
    {
        string dir = TestPaths.TempDir();
        var rgb = new byte[3 * 2 * 3];
        for (int i = 0; i < rgb.Length; i++) rgb[i] = (byte)(i * 13);
        ImageFile.WritePng(Path.Combine(dir, "rgb.png"), 3, 2, 3, rgb);
        var img = ImageFile.Decode(Path.Combine(dir, "rgb.png"));
        Assert.Equal((3, 2), (img.Width, img.Height));
        Assert.Equal(rgb, img.Pixels);

        ImageFile.WritePng(Path.Combine(dir, "gray.png"), 2, 1, 1, [7, 200]);
        Assert.Equal(new byte[] { 7, 7, 7, 200, 200, 200 }, ImageFile.Decode(Path.Combine(dir, "gray.png")).Pixels);

        Assert.Throws<ArgumentException>(() => ImageFile.WritePng(Path.Combine(dir, "small.png"), 3, 2, 3, new byte[5]));
        Assert.Throws<ArgumentException>(() => ImageFile.WritePng(Path.Combine(dir, "two.png"), 1, 1, 2, new byte[2]));
        Assert.Equal(["gray.png", "rgb.png"], Directory.GetFiles(dir).Select(Path.GetFileName).Order().ToArray());
    }
}
