using PatchCore.Data;

namespace PatchCore.Tests;

public class PipelineDatasetTests
{
    static void Touch(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, [0]);
    }

    static string Layout(bool masks = true)
    {
        string root = TestPaths.TempDir();
        string c = Path.Combine(root, "widget");
        Touch(Path.Combine(c, "train", "good", "001.png"));
        Touch(Path.Combine(c, "train", "good", "000.png"));
        Touch(Path.Combine(c, "train", "good", "notes.txt"));
        Touch(Path.Combine(c, "test", "good", "000.png"));
        Touch(Path.Combine(c, "test", "crack", "000.png"));
        Touch(Path.Combine(c, "test", "crack", "001.png"));
        if (masks)
        {
            Touch(Path.Combine(c, "ground_truth", "crack", "000_mask.png"));
            Touch(Path.Combine(c, "ground_truth", "crack", "001_mask.png"));
        }
        Directory.CreateDirectory(Path.Combine(root, "other", "train", "good"));
        return root;
    }

    [Fact]
    public void DiscoversTrainTestAndMasksInOrder()
    {
        string root = Layout();
        var d = MvtecDataset.Open(root, "widget");
        Assert.Equal(["000.png", "001.png"], d.TrainImages.Select(Path.GetFileName));
        Assert.True(d.HasMasks);
        Assert.Equal(3, d.TestSamples.Count);
        Assert.Equal(["crack", "crack", "good"], d.TestSamples.Select(t => t.DefectType));
        Assert.Equal([1, 1, 0], d.TestSamples.Select(t => t.Label));
        Assert.EndsWith(Path.Combine("ground_truth", "crack", "001_mask.png"), d.TestSamples[1].MaskPath);
        Assert.Null(d.TestSamples[2].MaskPath);
        Assert.Equal(["other", "widget"], MvtecDataset.FindCategories(root));
    }

    [Fact]
    public void MissingCategoryListsTheCategoriesFound()
    {
        string root = Layout();
        var e = Assert.Throws<DirectoryNotFoundException>(() => MvtecDataset.Open(root, "carpet"));
        Assert.Contains("'carpet'", e.Message);
        Assert.Contains("other, widget", e.Message);
    }

    [Fact]
    public void DefectImageWithoutMaskNamesTheImage()
    {
        string root = Layout();
        File.Delete(Path.Combine(root, "widget", "ground_truth", "crack", "001_mask.png"));
        var e = Assert.Throws<InvalidDataException>(() => MvtecDataset.Open(root, "widget"));
        Assert.Contains(Path.Combine("test", "crack", "001.png"), e.Message);
        Assert.Contains("without mask", e.Message);
    }

    [Fact]
    public void EmptyTrainGoodIsAnError()
    {
        string root = Layout();
        var e = Assert.Throws<InvalidDataException>(() => MvtecDataset.Open(root, "other"));
        Assert.Contains(Path.Combine("other", "train", "good"), e.Message);
    }

    [Fact]
    public void NoGroundTruthFolderMeansImageMetricsOnlyWithANote()
    {
        string root = Layout(masks: false);
        var notes = new List<string>();
        var d = MvtecDataset.Open(root, "widget", notes.Add);
        Assert.False(d.HasMasks);
        Assert.All(d.TestSamples, t => Assert.Null(t.MaskPath));
        Assert.Contains(notes, n => n.Contains("image metrics only"));
    }

    [Fact]
    public void DataRootComesFromFlagThenEnvironment()
    {
        Assert.Equal(Path.GetFullPath("/tmp/x"), MvtecDataset.ResolveRoot("/tmp/x"));
        if (Environment.GetEnvironmentVariable(MvtecDataset.DataEnvironmentVariable) is null)
            Assert.Equal(Path.GetFullPath("data/mvtec"), MvtecDataset.ResolveRoot(null));
    }

    [Fact]
    public void SyntheticCategoryHasTheMvtecLayoutAndIsReused()
    {
        string root = TestPaths.TempDir();
        var o = new SyntheticDataset.Options(Train: 3, TestGood: 2, TestDefect: 3, Size: 32, Seed: 5);
        string dir = SyntheticDataset.Ensure(root, "demo", o);
        var d = MvtecDataset.Open(root, "demo");
        Assert.Equal(3, d.TrainImages.Count);
        Assert.Equal(5, d.TestSamples.Count);
        Assert.Equal(3, d.TestSamples.Count(t => t.IsAnomalous));
        Assert.All(d.TestSamples.Where(t => t.IsAnomalous), t => Assert.True(new FileInfo(t.MaskPath!).Length > 0));
        Assert.Empty(Directory.GetDirectories(root, ".demo.tmp-*"));
        var stamp = File.GetLastWriteTimeUtc(d.TrainImages[0]);
        SyntheticDataset.Ensure(root, "demo", o);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(d.TrainImages[0]));
        // Every defect mask marks some pixels, and those pixels differ from the texture in the image.
        foreach (var t in d.TestSamples.Where(t => t.IsAnomalous))
        {
            var mask = StbImageSharp.ImageResult.FromMemory(File.ReadAllBytes(t.MaskPath!), StbImageSharp.ColorComponents.Grey);
            Assert.Equal(32, mask.Width);
            int marked = mask.Data.Count(v => v == 255);
            Assert.InRange(marked, 1, 32 * 32 / 4);
        }
    }
}
