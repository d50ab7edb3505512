using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using PatchCore.Cli;
using PatchCore.Cli.Commands;
using PatchCore.Pipeline;

namespace PatchCore.Tests.Fuzz;

/// <summary>Mutated .pcm model files and JSON configs (as <c>--config</c> loads them): a valid result or one clean
/// error (InvalidDataException naming the file; for config values the CLI's ArgumentException / UserError).</summary>
public class ModelAndConfigFuzzTests
{
    readonly string _dir = TestPaths.TempDir();

    static PatchCoreModel Model()
    {
        var rng = new Random(3);
        var bank = new float[5 * 8];
        for (int i = 0; i < bank.Length; i++) bank[i] = (float)rng.NextDouble() - 0.5f;
        return new PatchCoreModel(new PatchCoreConfig { Coreset = 0.05, K = 2 }, bank, 5, 8, 7, 6, "ab12", 11);
    }

    static byte[] ModelBytes(PatchCoreModel m)
    {
        var ms = new MemoryStream();
        ModelFile.Write(m, ms);
        return ms.ToArray();
    }

    static void ValidModel(PatchCoreModel m)
    {
        Assert.Equal((long)m.BankRows * m.Dim, m.Bank.LongLength);
        Assert.NotNull(m.Config);
        Assert.NotNull(m.WeightsIdentity);
        m.Config.Validate();
    }

    PatchCoreModel LoadModel(byte[] bytes)
    {
        string path = Path.Combine(_dir, "m.pcm");
        File.WriteAllBytes(path, bytes);
        return ModelFile.Load(path);
    }

    [Fact]
    public void ModelFileBytes()
    {
        var valid = ModelBytes(Model());
        int headerEnd = 20 + (int)BinaryPrimitives.ReadUInt64LittleEndian(valid.AsSpan(12));
        var (parsed, refused) = ParserFuzz.Run("model file", valid, headerEnd, ParserFuzz.Iterations(1000), LoadModel, ValidModel, mustName: "m.pcm");
        Assert.True(parsed > 0 && refused > 0, $"{parsed} parsed, {refused} refused");
    }

    static readonly string[] NastyJson =
    [
        "null", "-1", "0", "2147483647", "2147483648", "-2147483648", "1e309", "-1e309", "1e-320", "0.5", "\"\"", "\"x\"",
        "true", "[]", "[null]", "[\"layer2\",null]", "{}", "[\"layer2\",\"layer3\"]", "\"official\"", "\"squared\"",
    ];

    /// <summary>A JSON object with one value (found by a path of member indexes) replaced.</summary>
    static string Replace(string json, int[] path, string value)
    {
        var root = JsonNode.Parse(json)!;
        JsonNode node = root;
        for (int d = 0; d < path.Length; d++)
        {
            if (node is not JsonObject o || o.Count == 0) break;
            var (key, child) = o.ElementAt(path[d] % o.Count);
            if (d == path.Length - 1 || child is not JsonObject)
            {
                o[key] = JsonNode.Parse(value);
                break;
            }
            node = child;
        }
        return root.ToJsonString();
    }

    [Fact]
    public void ModelFileHeaderValues()
    {
        // Structure-aware: a well-formed file whose JSON header holds a nasty value (null config, negative sizes, ...).
        // The model as written (format 2: header and bank sections, no weights); each case rebuilds the file with
        // valid lengths and checksums around the edited header, so the JSON values are what is tested.
        var valid = ModelBytes(Model());
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(valid.AsSpan(12)));
        int t = ModelFile.FixedBytes, te = ModelFile.TableEntryBytes;
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(valid.AsSpan(t + 4));
        int bankLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(valid.AsSpan(t + te + 4));
        int sections = t + 2 * te + 32;
        string header = Encoding.UTF8.GetString(valid, sections, headerLength);
        var bank = valid.AsSpan(sections + headerLength, bankLength).ToArray();
        var gen = Gen.Select(Gen.Int[0, 40].Array[1, 2], Gen.Int[0, NastyJson.Length - 1]).Array[1, 3];
        var pcg = new PCG(3, 20261201);
        int refused = 0, n = ParserFuzz.Iterations(500);
        for (int i = 0; i < n; i++)
        {
            var edits = gen.Generate(pcg, null!, out _);
            string json = header;
            foreach (var (path, v) in edits) json = Replace(json, path, NastyJson[v]);
            var h = Encoding.UTF8.GetBytes(json);
            var file = new byte[sections + h.Length + bank.Length];
            valid.AsSpan(0, t).CopyTo(file);
            BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(t), (uint)ModelFile.SectionKind.Header);
            BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(t + 4), (ulong)h.Length);
            System.Security.Cryptography.SHA256.HashData(h).CopyTo(file, t + 12);
            valid.AsSpan(t + te, te).CopyTo(file.AsSpan(t + te));
            System.Security.Cryptography.SHA256.HashData(file.AsSpan(0, t + 2 * te)).CopyTo(file, t + 2 * te);
            h.CopyTo(file, sections);
            bank.CopyTo(file, sections + h.Length);
            try { ValidModel(LoadModel(file)); }
            catch (InvalidDataException e) when (e.Message.Contains("m.pcm") && !e.Message.Contains('\n')) { refused++; }
            catch (Exception e) { Assert.Fail($"model header case {i}: {json}\n{e.GetType().Name}: {e.Message}\n{e.StackTrace}"); }
        }
        Assert.True(refused > 0);
    }

    PatchCoreConfig LoadConfig(string json)
    {
        string path = Path.Combine(_dir, "c.json");
        File.WriteAllText(path, json);
        return new RunCommand { Config = path }.BuildConfig();
    }

    static readonly Type[] ConfigErrors = [typeof(ArgumentException), typeof(UserError)];

    [Fact]
    public void ConfigBytes()
    {
        var valid = Encoding.UTF8.GetBytes(new PatchCoreConfig().ToJson());
        var (parsed, refused) = ParserFuzz.Run("config", valid, valid.Length, ParserFuzz.Iterations(500),
            b => LoadConfig(Encoding.UTF8.GetString(b)), c => c.Validate(), ConfigErrors);
        Assert.True(parsed > 0 && refused > 0, $"{parsed} parsed, {refused} refused");
    }

    [Fact]
    public void ConfigValues()
    {
        string valid = new PatchCoreConfig().ToJson();
        var gen = Gen.Select(Gen.Int[0, 40], Gen.Int[0, NastyJson.Length - 1]).Array[1, 3];
        var pcg = new PCG(4, 20261201);
        int refused = 0, n = ParserFuzz.Iterations(600);
        for (int i = 0; i < n; i++)
        {
            var edits = gen.Generate(pcg, null!, out _);
            string json = valid;
            foreach (var (k, v) in edits) json = Replace(json, [k], NastyJson[v]);
            try { LoadConfig(json).Validate(); }
            catch (Exception e) when (ParserFuzz.IsClean(e, ConfigErrors) && !e.Message.Contains('\n')) { refused++; }
            catch (Exception e) { Assert.Fail($"config case {i}: {json}\n{e.GetType().Name}: {e.Message}\n{e.StackTrace}"); }
        }
        Assert.True(refused > n / 2, $"only {refused} of {n} nasty configs refused");
    }
}
