using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using PatchCore.Pipeline;
using PatchCore.Scoring;
using PatchCore.Weights;

namespace PatchCore.Tests;

/// <summary>Model file format 2: checksummed sections, embedded weights, bounded loading; format 1 still read.</summary>
public class PipelineModelFileFormatTests
{
    static PatchCoreModel Model(string identity)
    {
        var rng = new Random(5);
        var bank = new float[6 * 8];
        for (int i = 0; i < bank.Length; i++) bank[i] = (float)rng.NextDouble() - 0.5f;
        return new PatchCoreModel(new PatchCoreConfig { Coreset = 0.05, K = 2 }, bank, 6, 8, 7, 6, identity, 11);
    }

    /// <summary>Where each section of a file written by <see cref="ModelFile.Write"/> lies: (name, start, length).</summary>
    static List<(string Name, long Start, long Length)> Layout(byte[] file)
    {
        int count = (int)BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(12));
        int tableEnd = ModelFile.FixedBytes + count * ModelFile.TableEntryBytes;
        var list = new List<(string, long, long)> { ("fixed", 0, ModelFile.FixedBytes), ("table", ModelFile.FixedBytes, tableEnd + 32 - ModelFile.FixedBytes) };
        long at = tableEnd + 32;
        for (int i = 0; i < count; i++)
        {
            var e = file.AsSpan(ModelFile.FixedBytes + i * ModelFile.TableEntryBytes);
            var kind = (ModelFile.SectionKind)BinaryPrimitives.ReadUInt32LittleEndian(e);
            long length = (long)BinaryPrimitives.ReadUInt64LittleEndian(e[4..]);
            list.Add((ModelFile.SectionName(kind), at, length));
            at += length;
        }
        Assert.Equal(file.Length, at);
        return list;
    }

    static string ExpectedError(string section, long offset) => section switch
    {
        "fixed" when offset < 8 => "not a pcnative model file",
        "fixed" when offset < 12 => "model format version",
        "fixed" => "", // the section count: either "corrupt section count" or the table checksum, checked below
        "table" => "section table checksum mismatch (corrupt file)",
        _ => $"{section} checksum mismatch (corrupt file)",
    };

    static void AssertFlipIsNamed(string path, byte[] original, string section, long offset)
    {
        var bytes = (byte[])original.Clone();
        bytes[offset] ^= 0xFF;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Load(path));
        Assert.StartsWith(path + ":", e.Message);
        Assert.DoesNotContain("\n", e.Message);
        string expected = ExpectedError(section, offset);
        if (expected.Length > 0) Assert.True(e.Message.Contains(expected), $"byte {offset} ({section}): '{e.Message}' lacks '{expected}'");
        else Assert.True(e.Message.Contains("section count") || e.Message.Contains("section table checksum"), $"byte {offset}: {e.Message}");
    }

    [Fact]
    public void EveryFlippedByteOfTableHeaderAndBankIsANamedError()
    {
        string dir = TestPaths.TempDir();
        string good = Path.Combine(dir, "good.pcm"), bad = Path.Combine(dir, "bad.pcm");
        var m = Model("ab12");
        m.Calibration = Calibration.FromNominal([1f, 2f, 3f], [0.5f, 1f, 2f, 4f], 0.1, "test");
        ModelFile.Save(m, good);
        var original = File.ReadAllBytes(good);
        var layout = Layout(original);
        Assert.Equal(["fixed", "table", "header", "memory bank"], layout.Select(l => l.Name));
        foreach (var (name, start, length) in layout)
            for (long o = start; o < start + length; o++)
                AssertFlipIsNamed(bad, original, name, o);
    }

    [Fact]
    public void FlippedBytesInEverySectionOfAFileWithEmbeddedWeightsAreNamed()
    {
        string dir = TestPaths.TempDir();
        string good = Path.Combine(dir, "good.pcm"), bad = Path.Combine(dir, "bad.pcm");
        var weights = PipelineTestData.TinyResNet(1, "ab12");
        ModelFile.Save(Model("ab12"), good, weights);
        var original = File.ReadAllBytes(good);
        var layout = Layout(original);
        Assert.Equal(["fixed", "table", "header", "memory bank", "backbone weights"], layout.Select(l => l.Name));
        foreach (var (name, start, length) in layout)
        {
            // Every byte of the small parts; first, last and a spread of the weights (a megabyte) and the bank.
            int step = length > 4096 ? (int)(length / 37) : 1;
            for (long o = start; o < start + length; o += step) AssertFlipIsNamed(bad, original, name, o);
            AssertFlipIsNamed(bad, original, name, start + length - 1);
        }
        // Intact, it loads with the weights (cut after layer3, the identity of the whole file).
        var back = ModelFile.Load(good);
        Assert.NotNull(back.EmbeddedWeights);
        Assert.Equal("ab12", back.EmbeddedWeights!.Identity);
        Assert.Equal([1, 1, 1], back.EmbeddedWeights.Metadata.BlocksPerStage);
        Assert.DoesNotContain(back.EmbeddedWeights.Tensors.Keys, k => k.StartsWith("layer4", StringComparison.Ordinal));
        foreach (var (k, t) in back.EmbeddedWeights.Tensors) Assert.Equal(weights.Get(k).Data, t.Data);
        Assert.Same(back.EmbeddedWeights, back.BackboneWeights(null, good));
    }

    [Fact]
    public void TruncatedOrPaddedFilesAreRefusedBeforeAllocating()
    {
        string dir = TestPaths.TempDir();
        string path = Path.Combine(dir, "m.pcm");
        ModelFile.Save(Model("ab12"), path, PipelineTestData.TinyResNet(1, "ab12"));
        var bytes = File.ReadAllBytes(path);
        foreach (int keep in (int[])[10, ModelFile.FixedBytes + 5, 200, bytes.Length / 2, bytes.Length - 1])
        {
            File.WriteAllBytes(path, bytes[..keep]);
            var e = Assert.Throws<InvalidDataException>(() => ModelFile.Load(path));
            Assert.StartsWith(path + ":", e.Message);
            if (keep > 200) Assert.Contains("truncated", e.Message);
        }
        File.WriteAllBytes(path, [.. bytes, 0]);
        Assert.Contains("padded", Assert.Throws<InvalidDataException>(() => ModelFile.Load(path)).Message);
    }

    [Fact]
    public void CalibrationAndSizesRoundTrip()
    {
        string path = Path.Combine(TestPaths.TempDir(), "m.pcm");
        var m = Model("ab12");
        m.Calibration = Calibration.FromNominal([1f, 2f, 3f, 9f], [0.5f, 1f, 2f, 4f], 0.25, "held-out 10% of train/good") with
        {
            ImageF1 = new ScoreThreshold(2.5, 1, "F1-optimal on test"),
        };
        ModelFile.Save(m, path);
        var back = ModelFile.Load(path);
        Assert.Equal(m.Calibration, back.Calibration);
        Assert.Equal(m.Bank, back.Bank);
        Assert.Null(back.EmbeddedWeights);
        ModelFile.Save(Model("ab12"), path);
        Assert.Null(ModelFile.Load(path).Calibration);
    }

    /// <summary>The layout every pcnative before format 2 wrote.</summary>
    static void WriteVersion1(string path, PatchCoreModel m)
    {
        string json = $$"""{"config":{{m.Config.ToJson()}},"weights_sha256":"{{m.WeightsIdentity}}","feature_dim":{{m.Dim}},"grid_h":{{m.GridH}},"grid_w":{{m.GridW}},"bank_rows":{{m.BankRows}},"train_images":{{m.TrainImages}},"created_by":"pcnative"}""";
        byte[] header = Encoding.UTF8.GetBytes(json);
        using var s = File.Create(path);
        s.Write("PCNMODEL"u8);
        Span<byte> b = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(b, 1);
        BinaryPrimitives.WriteUInt64LittleEndian(b[4..], (ulong)header.Length);
        s.Write(b);
        s.Write(header);
        s.Write(MemoryMarshal.AsBytes(m.Bank.AsSpan()));
    }

    [Fact]
    public void Version1FilesLoadWithOneWarningAndNeedTheirWeightFile()
    {
        string dir = TestPaths.TempDir();
        string weightsPath = Path.Combine(dir, "w.safetensors");
        PipelineTestData.TinyResNet(1).Save(weightsPath);
        string identity = WeightFile.HashFile(weightsPath);
        var m = Model(identity);
        string path = Path.Combine(dir, "old.pcm");
        WriteVersion1(path, WithWeightsPath(m, weightsPath));
        var warnings = new List<string>();
        var back = ModelFile.Load(path, warnings.Add);
        var warning = Assert.Single(warnings);
        Assert.Contains("unverified", warning);
        Assert.Contains(path, warning);
        Assert.Equal(m.Bank, back.Bank);
        Assert.Equal((6, 8, 7, 6, 11), (back.BankRows, back.Dim, back.GridH, back.GridW, back.TrainImages));
        Assert.Null(back.EmbeddedWeights);
        // Its weights come from the file the config names, checked by hash.
        Assert.Equal(identity, back.BackboneWeights(null, path).Identity);
        File.Delete(weightsPath);
        var e = Assert.Throws<FileNotFoundException>(() => back.BackboneWeights(null, path));
        Assert.Contains("--weights", e.Message);
        // Re-saved, it is format 2.
        ModelFile.Save(back, path);
        warnings.Clear();
        ModelFile.Load(path, warnings.Add);
        Assert.Empty(warnings);
    }

    static PatchCoreModel WithWeightsPath(PatchCoreModel m, string weightsPath) =>
        new PatchCoreModel(m.Config with { Weights = weightsPath }, m.Bank, m.BankRows, m.Dim, m.GridH, m.GridW, m.WeightsIdentity, m.TrainImages);

    [Fact]
    public void WeightsFlagIsRefusedUnlessItIsTheFittedFile()
    {
        string dir = TestPaths.TempDir();
        string wa = Path.Combine(dir, "a.safetensors"), wb = Path.Combine(dir, "b.safetensors");
        PipelineTestData.TinyResNet(1).Save(wa);
        PipelineTestData.TinyResNet(2).Save(wb);
        var a = WeightFile.Load(wa);
        string path = Path.Combine(dir, "m.pcm");
        ModelFile.Save(Model(a.Identity), path, a);
        var m = ModelFile.Load(path);
        var e = Assert.Throws<InvalidDataException>(() => m.BackboneWeights(wb, path));
        Assert.Contains("--weights " + wb, e.Message);
        Assert.Contains("not the weight file", e.Message);
        Assert.Equal(a.Identity, m.BackboneWeights(wa, path).Identity);
        // Embedding weights other than the model's is a programming error, refused at write.
        Assert.Throws<ArgumentException>(() => ModelFile.Save(Model(a.Identity), path, WeightFile.Load(wb)));
    }
}
