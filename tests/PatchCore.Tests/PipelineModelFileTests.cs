using PatchCore.IO;
using PatchCore.Pipeline;

namespace PatchCore.Tests;

public class PipelineModelFileTests
{
    static PatchCoreModel Model(string identity = "ab12")
    {
        var rng = new Random(3);
        var bank = new float[5 * 8];
        for (int i = 0; i < bank.Length; i++) bank[i] = (float)rng.NextDouble() - 0.5f;
        return new PatchCoreModel(new PatchCoreConfig { Coreset = 0.05, K = 2 }, bank, 5, 8, 7, 6, identity, 11);
    }

    [Fact]
    public void RoundTripKeepsBankConfigAndSizes()
    {
        var m = Model();
        string path = Path.Combine(TestPaths.TempDir(), "m.pcm");
        ModelFile.Save(m, path);
        var back = ModelFile.Load(path);
        Assert.Equal(m.Bank, back.Bank);
        Assert.Equal((5, 8, 7, 6, 11), (back.BankRows, back.Dim, back.GridH, back.GridW, back.TrainImages));
        Assert.Equal("ab12", back.WeightsIdentity);
        Assert.Equal(m.Config.ToJson(), back.Config.ToJson());
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public void RefusesOtherWeightsOrOtherSizes()
    {
        var m = Model();
        m.CheckCompatible("AB12", 8, 7, 6); // same identity (hex case does not matter)
        var e = Assert.Throws<InvalidDataException>(() => m.CheckCompatible("cd34", 8, 7, 6));
        Assert.Contains("weights", e.Message);
        Assert.DoesNotContain("\n", e.Message);
        e = Assert.Throws<InvalidDataException>(() => m.CheckCompatible("ab12", 16, 7, 6));
        Assert.Contains("8-d", e.Message);
        Assert.Throws<InvalidDataException>(() => m.CheckCompatible("ab12", 8, 14, 12));
    }

    [Fact]
    public void CorruptOrTruncatedFilesAreRefusedWithTheirName()
    {
        string dir = TestPaths.TempDir();
        string path = Path.Combine(dir, "m.pcm");
        ModelFile.Save(Model(), path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^4]);
        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Load(path));
        Assert.Contains(path, e.Message);
        string other = Path.Combine(dir, "x.pcm");
        File.WriteAllText(other, "not a model at all");
        e = Assert.Throws<InvalidDataException>(() => ModelFile.Load(other));
        Assert.Contains("not a pcnative model", e.Message);
    }

    [Fact]
    public void FailedWriteLeavesTheOldFileAndNoTemporary()
    {
        string dir = TestPaths.TempDir();
        string path = Path.Combine(dir, "m.pcm");
        var m = Model();
        ModelFile.Save(m, path);
        var before = File.ReadAllBytes(path);
        Assert.Throws<IOException>(() => AtomicFile.Write(path, s =>
        {
            ModelFile.Write(Model("ffff"), s);
            throw new IOException("disk full");
        }));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(dir));
        string fresh = Path.Combine(dir, "new.pcm");
        Assert.Throws<IOException>(() => AtomicFile.Write(fresh, s => { s.WriteByte(1); throw new IOException("disk full"); }));
        Assert.False(File.Exists(fresh));
        Assert.Single(Directory.GetFiles(dir));
    }
}
