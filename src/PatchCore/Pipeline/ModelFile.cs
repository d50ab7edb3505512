using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using PatchCore.IO;

namespace PatchCore.Pipeline;

/// <summary>
/// The deployable model (.pcm): everything <c>pcnative predict</c> needs besides the weight file.
/// Layout: 8-byte magic "PCNMODEL", u32 format version, u64 header length, UTF-8 JSON header (config, weights
/// identity, sizes), then the memory bank as little-endian float32 [bank_rows, feature_dim].
/// Written atomically; loading checks the magic, the version and every length.
/// </summary>
public static class ModelFile
{
    static ReadOnlySpan<byte> Magic => "PCNMODEL"u8;
    public const uint FormatVersion = 1;

    sealed record Header
    {
        public required PatchCoreConfig Config { get; init; }
        public required string WeightsSha256 { get; init; }
        public required int FeatureDim { get; init; }
        public required int GridH { get; init; }
        public required int GridW { get; init; }
        public required int BankRows { get; init; }
        public required int TrainImages { get; init; }
        public string CreatedBy { get; init; } = "pcnative";
    }

    static readonly JsonSerializerOptions Json = new(PatchCoreConfig.Json) { WriteIndented = false };

    public static void Save(PatchCoreModel model, string path)
    {
        AtomicFile.RemoveStale(Path.GetDirectoryName(Path.GetFullPath(path))!);
        AtomicFile.Write(path, s => Write(model, s));
    }

    public static void Write(PatchCoreModel model, Stream s)
    {
        var header = new Header
        {
            Config = model.Config, WeightsSha256 = model.WeightsIdentity, FeatureDim = model.Dim,
            GridH = model.GridH, GridW = model.GridW, BankRows = model.BankRows, TrainImages = model.TrainImages,
        };
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(header, Json);
        Span<byte> fixedPart = stackalloc byte[20];
        Magic.CopyTo(fixedPart);
        BinaryPrimitives.WriteUInt32LittleEndian(fixedPart[8..], FormatVersion);
        BinaryPrimitives.WriteUInt64LittleEndian(fixedPart[12..], (ulong)json.Length);
        s.Write(fixedPart);
        s.Write(json);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian host");
        const int chunk = 1 << 20;
        for (long o = 0; o < model.Bank.LongLength; o += chunk)
        {
            int n = (int)Math.Min(chunk, model.Bank.LongLength - o);
            s.Write(MemoryMarshal.AsBytes(model.Bank.AsSpan((int)o, n)));
        }
    }

    public static PatchCoreModel Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"model file not found: {path}");
        using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        Span<byte> fixedPart = stackalloc byte[20];
        if (s.ReadAtLeast(fixedPart, 20, throwOnEndOfStream: false) < 20 || !fixedPart[..8].SequenceEqual(Magic))
            throw new InvalidDataException($"{path}: not a pcnative model file (.pcm)");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(fixedPart[8..]);
        if (version != FormatVersion)
            throw new InvalidDataException($"{path}: model format version {version}, this pcnative reads version {FormatVersion}");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(fixedPart[12..]);
        if (headerLength == 0 || headerLength > 1 << 24 || (long)headerLength > s.Length - 20)
            throw new InvalidDataException($"{path}: corrupt model header length {headerLength}");
        var json = new byte[headerLength];
        s.ReadExactly(json);
        Header h;
        try
        {
            h = JsonSerializer.Deserialize<Header>(json, Json) ?? throw new JsonException("empty header");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: corrupt model header ({IO.ErrorText.OneLine(e.Message, 300)})");
        }
        // JSON null satisfies "required" but not us: a model must name its config and its weights.
        if (h.Config is null || h.WeightsSha256 is null || h.CreatedBy is null)
            throw new InvalidDataException($"{path}: corrupt model header (config, weights_sha256 or created_by is null)");
        if (h.FeatureDim < 1 || h.BankRows < 1 || h.GridH < 1 || h.GridW < 1)
            throw new InvalidDataException($"{path}: corrupt model header (sizes)");
        long values = (long)h.BankRows * h.FeatureDim; // both are int: no overflow, and x 4 below neither once capped
        if (values > Array.MaxLength) throw new InvalidDataException($"{path}: memory bank of {h.BankRows} x {h.FeatureDim} is too large");
        long expected = 20 + (long)headerLength + values * 4;
        if (s.Length != expected)
            throw new InvalidDataException($"{path}: truncated or padded model file ({s.Length} bytes, expected {expected})");
        var bank = new float[values];
        const int chunk = 1 << 20;
        for (long o = 0; o < values; o += chunk)
            s.ReadExactly(MemoryMarshal.AsBytes(bank.AsSpan((int)o, (int)Math.Min(chunk, values - o))));
        try { h.Config.Validate(); }
        catch (ArgumentException e) { throw new InvalidDataException($"{path}: {e.Message}"); }
        return new PatchCoreModel(h.Config, bank, h.BankRows, h.FeatureDim, h.GridH, h.GridW, h.WeightsSha256, h.TrainImages);
    }
}
