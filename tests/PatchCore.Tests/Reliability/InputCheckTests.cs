using PatchCore.Cli.Commands;
using PatchCore.Data;
using PatchCore.IO;
using PatchCore.Metrics;

namespace PatchCore.Tests.Reliability;

/// <summary>Data checks of issue 12 item 5: mask size, tiny images, folders linking to themselves, resize overflow.</summary>
public class InputCheckTests
{
    [Fact]
    public void ResizeToAnAbsurdSizeIsAClearErrorNotAnOverflow()
    {
        var e = Assert.Throws<ArgumentException>(() => PilResize.Resize(new byte[3 * 4 * 4], 4, 4, 3, 100000, 100000));
        Assert.Contains("100000x100000", e.Message);
        Assert.Equal(3 * 256 * 256, PilResize.Resize(new byte[3], 1, 1, 3, 256, 256).Length); // a 1x1 image still resizes
    }

    [Fact]
    public void HeaderSizesOfPngBmpAndJpeg()
    {
        string dir = TestPaths.TempDir();
        string png = Path.Combine(dir, "a.png");
        ImageFile.WritePng(png, 7, 5, 3, new byte[7 * 5 * 3]);
        Assert.Equal((7, 5), ImageHeader.TryRead(png));
        byte[] bmp = new byte[54];
        bmp[0] = (byte)'B'; bmp[1] = (byte)'M'; bmp[18] = 9; bmp[22] = unchecked((byte)-4); bmp[23] = bmp[24] = bmp[25] = 0xFF; // height -4: top-down
        Assert.Equal((9, 4), ImageHeader.FromBytes(bmp));
        byte[] jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8, 0, 6, 0, 10, 3];
        Assert.Equal((10, 6), ImageHeader.FromBytes(jpeg));
        Assert.Null(ImageHeader.FromBytes([0xFF, 0xD8, 0xFF]));
        Assert.Null(ImageHeader.TryRead(Path.Combine(dir, "missing.png")));
    }

    [Fact]
    public void MaskOfAnotherSizeIsRefusedByTheDatasetAndByTheEvaluation()
    {
        PipelineTestData.TinyCategory(out var data);
        var sample = data.TestSamples.First(t => t.MaskPath != null);
        ImageFile.WritePng(sample.MaskPath!, 64, 48, 1, new byte[64 * 48]);
        var e = Assert.Throws<InvalidDataException>(() => MvtecDataset.Open(data.Root, data.Category));
        Assert.Contains(sample.MaskPath!, e.Message);
        Assert.Contains("64x48", e.Message);
        var e2 = Assert.Throws<InvalidDataException>(() => Evaluation.LoadMasks(data.TestSamples, new ResizeSpec(64, 56, false), 1));
        Assert.Contains(sample.MaskPath!, e2.Message);
    }

    [Fact]
    public void TinyImagesAreNotedByName()
    {
        PipelineTestData.TinyCategory(out var data);
        string img = data.TrainImages[0];
        ImageFile.WritePng(img, 1, 1, 3, [1, 2, 3]);
        var notes = new List<string>();
        MvtecDataset.Open(data.Root, data.Category, notes.Add);
        Assert.Contains(notes, n => n.StartsWith(img + ": tiny image (1x1", StringComparison.Ordinal));
        notes.Clear();
        MvtecDataset.Open(data.Root, data.Category, notes.Add, crop: 4); // tiny is relative to the crop
        Assert.Contains(notes, n => n.Contains("tiny image"));
        ImageFile.WritePng(img, 64, 64, 3, new byte[64 * 64 * 3]);
        notes.Clear();
        MvtecDataset.Open(data.Root, data.Category, notes.Add);
        Assert.DoesNotContain(notes, n => n.Contains("tiny image"));
    }

    [Fact]
    public void AFolderThatLinksToItselfIsWalkedOnce()
    {
        if (OperatingSystem.IsWindows()) return; // symbolic links need a privilege there
        string dir = TestPaths.TempDir();
        ImageFile.WritePng(Path.Combine(dir, "a.png"), 2, 2, 3, new byte[12]);
        Directory.CreateDirectory(Path.Combine(dir, "sub"));
        ImageFile.WritePng(Path.Combine(dir, "sub", "b.png"), 2, 2, 3, new byte[12]);
        Directory.CreateSymbolicLink(Path.Combine(dir, "self"), dir);
        Directory.CreateSymbolicLink(Path.Combine(dir, "sub", "up"), "..");
        Assert.Equal(MvtecDataset.RealPath(dir), MvtecDataset.RealPath(Path.Combine(dir, "sub", "up", "self", "self")));
        var files = MvtecDataset.ListImagesRecursive(dir);
        Assert.Equal([Path.Combine(dir, "a.png"), Path.Combine(dir, "sub", "b.png")], files);
        Assert.Equal(files, PredictCommand.ExpandInputs([dir]).Select(i => i.Path).ToList());
    }

    [Fact]
    public void ATestFolderLinkedTwiceIsListedOnce()
    {
        if (OperatingSystem.IsWindows()) return;
        PipelineTestData.TinyCategory(out var data);
        string test = Path.Combine(data.CategoryDir, "test");
        Directory.CreateSymbolicLink(Path.Combine(test, "zz_again"), Path.Combine(test, "good"));
        var notes = new List<string>();
        var again = MvtecDataset.Open(data.Root, data.Category, notes.Add);
        Assert.Equal(data.TestSamples.Count, again.TestSamples.Count);
        Assert.Contains(notes, n => n.Contains("zz_again") && n.Contains("skipped"));
    }
}
