using PatchCore.Weights;

namespace PatchCore.Tests.Weights;

public class WeightTruncateTests
{
    [Fact]
    public void CutAfterFirstStageKeepsOnlyWhatThatStageNeeds()
    {
        var m = WeightFileTests.TinyBasic();
        var full = new WeightFile(m, WeightFileTests.RandomTensors(m));
        var cut = full.TruncateStages(1);

        Assert.Equal([1], cut.Metadata.BlocksPerStage);
        Assert.Equal([64], cut.Metadata.StageWidths);
        Assert.DoesNotContain(cut.Tensors.Keys, k => k.StartsWith("layer2", StringComparison.Ordinal));
        Assert.DoesNotContain("layer2.0.conv1", cut.Metadata.Geometry.Keys);
        Assert.Contains("conv1", cut.Metadata.Geometry.Keys);
        // Kept tensors are the very same ones, and the cut file passes the loader's validation.
        Assert.Same(full.Get("layer1.0.conv1.weight"), cut.Get("layer1.0.conv1.weight"));
        var path = Path.Combine(TestPaths.TempDir(), "cut.safetensors");
        cut.Save(path);
        Assert.Equal(cut.Tensors.Count, WeightFile.Load(path).Tensors.Count);
    }

    [Fact]
    public void CannotKeepMoreStagesThanTheNetHas()
    {
        var m = WeightFileTests.TinyBasic();
        var full = new WeightFile(m, WeightFileTests.RandomTensors(m));
        Assert.Throws<ArgumentException>(() => full.TruncateStages(3));
    }
}
