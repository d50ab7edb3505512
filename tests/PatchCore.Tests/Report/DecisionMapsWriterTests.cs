using System.Buffers.Binary;
using System.Text;
using PatchCore.IO;
using PatchCore.Report;

namespace PatchCore.Tests.Report;

public class DecisionMapsWriterTests
{
    [Fact]
    public void NpyHeaderIsVersionOneLittleEndianFloat32AlignedTo64AndTheValuesRoundTrip()
    {
        string path = Path.Combine(TestPaths.TempDir(), "m.npy");
        var values = new float[3 * 5];
        for (int i = 0; i < values.Length; i++) values[i] = i * 0.5f - 3.25f;
        values[7] = float.MaxValue;
        NpyFile.Write(path, values, 3, 5);

        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 }, bytes[..8]);
        int headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
        Assert.Equal(0, (10 + headerLength) % 64);
        string dict = Encoding.ASCII.GetString(bytes, 10, headerLength);
        Assert.StartsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 5), }", dict);
        Assert.EndsWith("\n", dict);
        Assert.Equal(10 + headerLength + values.Length * 4, bytes.Length);
        Assert.Equal(values[1], BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(10 + headerLength + 4)));

        Assert.Equal(values, NpyFile.Read(path, out int h, out int w));
        Assert.Equal((3, 5), (h, w));
        Assert.Throws<ArgumentException>(() => NpyFile.Write(path, values, 4, 4));
    }

    [Fact]
    public void MasksAreGrayPngsAtTheMapSizeWhiteAtOrAboveThePixelThresholdAndMirrorTheirPaths()
    {
        string dir = TestPaths.TempDir();
        const int n = 2, h = 4, w = 6;
        var maps = new float[n * h * w];
        for (int i = 0; i < maps.Length; i++) maps[i] = i % 7;
        var predicted = DecisionMapsWriter.Predict(maps, 3.0);
        string[] stems = ["good/000", "crack/sub/001"];
        DecisionMapsWriter.WriteAll(dir, maps, h, w, n, i => stems[i], predicted, threads: 2);

        for (int i = 0; i < n; i++)
        {
            var png = StbImageSharp.ImageResult.FromMemory(File.ReadAllBytes(Path.Combine(dir, "masks", stems[i] + ".png")), StbImageSharp.ColorComponents.Grey);
            Assert.Equal((w, h), (png.Width, png.Height));
            Assert.Equal(StbImageSharp.ColorComponents.Grey, png.SourceComp);
            for (int p = 0; p < h * w; p++)
                Assert.Equal(maps[i * h * w + p] >= 3 ? 255 : 0, png.Data[p]);
            var map = NpyFile.Read(Path.Combine(dir, "maps", stems[i] + ".npy"), out int mh, out int mw);
            Assert.Equal((h, w), (mh, mw));
            Assert.Equal(maps.AsSpan(i * h * w, h * w).ToArray(), map);
        }

        // Uncalibrated: the raw maps only.
        string bare = TestPaths.TempDir();
        DecisionMapsWriter.WriteAll(bare, maps, h, w, n, i => stems[i], null, threads: 2);
        Assert.True(File.Exists(Path.Combine(bare, "maps", "good", "000.npy")));
        Assert.False(Directory.Exists(Path.Combine(bare, "masks")));
    }
}
