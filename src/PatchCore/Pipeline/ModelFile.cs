using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using PatchCore.IO;
using PatchCore.Scoring;
using PatchCore.Weights;

namespace PatchCore.Pipeline;

/// <summary>
/// The deployable model (.pcm): one file that is all <c>pcnative predict</c> and <c>evaluate</c> need.
///
/// Format 2 (written), all integers little-endian:
/// <code>
/// offset 0   8 bytes  magic "PCNMODEL"
///        8   u32      format version = 2
///       12   u32      section count n (2 or 3)
///       16   n x 44   section table: u32 kind, u64 length, 32-byte SHA-256 of the section's bytes
///   16+44n   32 bytes SHA-256 of bytes [0, 16+44n) (magic, version, count and table: a flipped length is caught)
///   then the sections, back to back in table order, the file ending with the last:
///     kind 1  header: UTF-8 JSON (config, weights identity, feature size, patch grid, bank rows, train images,
///             calibration or null)
///     kind 2  memory bank: float32 [bank_rows, feature_dim]
///     kind 3  backbone weights (optional): safetensors bytes of the weights cut after layer3
///             (<see cref="WeightBytes.PatchCoreCut"/>); without it the model needs the weight file whose SHA-256
///             the header names.
/// </code>
/// Loading checks the table's checksum first, then every length against the file size before anything is
/// allocated, then each section's checksum before it is used: a flipped byte anywhere is one error naming the file
/// and the section. The weights' identity stays the SHA-256 of the whole file the model was fitted with, so
/// <c>--weights</c> with that file is still accepted and any other is refused.
///
/// Format 1 (read only): magic, u32 version = 1, u64 header length, JSON header, bank; no checksums and no
/// weights. It loads with a warning that it is unverified and needs its weight file.
///
/// Written atomically (<see cref="AtomicFile"/>).
/// </summary>
public static class ModelFile
{
    static ReadOnlySpan<byte> Magic => "PCNMODEL"u8;
    public const uint FormatVersion = 2;
    public const uint LegacyFormatVersion = 1;

    public enum SectionKind : uint { Header = 1, Bank = 2, Weights = 3 }

    public const int FixedBytes = 16;
    public const int TableEntryBytes = 4 + 8 + 32;
    const int HashBytes = 32;
    // A header is a few KB; anything above this is corruption, refused before allocating.
    const long MaxHeaderBytes = 1 << 24;

    sealed record Header
    {
        public required PatchCoreConfig Config { get; init; }
        public required string WeightsSha256 { get; init; }
        public required int FeatureDim { get; init; }
        public required int GridH { get; init; }
        public required int GridW { get; init; }
        public required int BankRows { get; init; }
        public required int TrainImages { get; init; }
        public Calibration? Calibration { get; init; }
        public string CreatedBy { get; init; } = "pcnative";
    }

    // Thresholds are finite in practice; named literals keep a degenerate one (±Infinity) writable and readable.
    static readonly JsonSerializerOptions Json = new(PatchCoreConfig.Json)
    {
        WriteIndented = false, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The name a section has in error messages.</summary>
    public static string SectionName(SectionKind kind) => kind switch
    {
        SectionKind.Header => "header",
        SectionKind.Bank => "memory bank",
        SectionKind.Weights => "backbone weights",
        _ => $"section {(uint)kind}",
    };

    /// <summary>Write the model atomically, embedding <paramref name="weights"/> (cut after layer3), else the
    /// weights the model already holds; with neither the file names its weights by hash only.</summary>
    public static void Save(PatchCoreModel model, string path, WeightFile? weights = null)
    {
        AtomicFile.RemoveStale(Path.GetDirectoryName(Path.GetFullPath(path))!);
        AtomicFile.Write(path, s => Write(model, s, weights));
    }

    public static void Write(PatchCoreModel model, Stream s, WeightFile? weights = null)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian host");
        weights ??= model.EmbeddedWeights;
        if (weights != null && !string.Equals(weights.Identity, model.WeightsIdentity, StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"model file: the weights to embed (sha256 {weights.Identity}) are not those the model was fitted with ({model.WeightsIdentity})");
        var header = new Header
        {
            Config = model.Config, WeightsSha256 = model.WeightsIdentity, FeatureDim = model.Dim,
            GridH = model.GridH, GridW = model.GridW, BankRows = model.BankRows, TrainImages = model.TrainImages,
            Calibration = model.Calibration,
        };
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(header, Json);
        ReadOnlySpan<byte> bank = MemoryMarshal.AsBytes(model.Bank.AsSpan());
        byte[]? weightBytes = weights == null ? null : WeightBytes.Serialize(WeightBytes.PatchCoreCut(weights), "model file weights");

        int count = weightBytes == null ? 2 : 3;
        var table = new byte[FixedBytes + count * TableEntryBytes + HashBytes];
        Magic.CopyTo(table);
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(8), FormatVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(12), (uint)count);
        Entry(table, 0, SectionKind.Header, json);
        Entry(table, 1, SectionKind.Bank, bank);
        if (weightBytes != null) Entry(table, 2, SectionKind.Weights, weightBytes);
        int tableEnd = FixedBytes + count * TableEntryBytes;
        SHA256.HashData(table.AsSpan(0, tableEnd), table.AsSpan(tableEnd));

        s.Write(table);
        s.Write(json);
        s.Write(bank);
        if (weightBytes != null) s.Write(weightBytes);
    }

    static void Entry(byte[] table, int i, SectionKind kind, ReadOnlySpan<byte> bytes)
    {
        var e = table.AsSpan(FixedBytes + i * TableEntryBytes, TableEntryBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(e, (uint)kind);
        BinaryPrimitives.WriteUInt64LittleEndian(e[4..], (ulong)bytes.Length);
        SHA256.HashData(bytes, e[12..]);
    }

    /// <summary>Read and verify a model file. Every problem is an <see cref="InvalidDataException"/> of one line
    /// naming the file (and the section). <paramref name="warn"/> gets the warning about an unverified format 1
    /// file (null: not reported).</summary>
    public static PatchCoreModel Load(string path, Action<string>? warn = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"model file not found: {path}");
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian host");
        using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        Span<byte> start = stackalloc byte[FixedBytes];
        if (s.ReadAtLeast(start, FixedBytes, throwOnEndOfStream: false) < FixedBytes || !start[..8].SequenceEqual(Magic))
            throw new InvalidDataException($"{path}: not a pcnative model file (.pcm)");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(start[8..]);
        if (version == LegacyFormatVersion)
        {
            var legacy = LoadVersion1(path, s, start);
            warn?.Invoke($"{path}: model format 1 has no checksums and no embedded weights: loaded unverified; it needs the weight file it was fitted with (sha256 {legacy.WeightsIdentity}); refit to get a verified, self-contained file");
            return legacy;
        }
        if (version != FormatVersion)
            throw new InvalidDataException($"{path}: model format version {version}; this pcnative reads versions 1 and 2 (a newer pcnative wrote it, or the file is corrupt)");
        return LoadVersion2(path, s, start);
    }

    static PatchCoreModel LoadVersion2(string path, FileStream s, ReadOnlySpan<byte> start)
    {
        long fileLength = s.Length;
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(start[12..]);
        if (count is < 2 or > 3)
            throw new InvalidDataException($"{path}: corrupt section count {count} (corrupt file)");
        int tableEnd = FixedBytes + (int)count * TableEntryBytes;
        if (fileLength < tableEnd + HashBytes)
            throw new InvalidDataException($"{path}: truncated model file ({fileLength} bytes, shorter than its section table)");
        var table = new byte[tableEnd + HashBytes];
        start.CopyTo(table);
        s.ReadExactly(table.AsSpan(FixedBytes));
        Span<byte> actual = stackalloc byte[HashBytes];
        SHA256.HashData(table.AsSpan(0, tableEnd), actual);
        if (!actual.SequenceEqual(table.AsSpan(tableEnd, HashBytes)))
            throw new InvalidDataException($"{path}: section table checksum mismatch (corrupt file)");

        // The table is intact: its kinds and lengths are what was written. Check them against the file anyway,
        // so a file cut short (or grown) is named as such before anything is allocated.
        var kinds = new SectionKind[count];
        var lengths = new long[count];
        var hashes = new byte[count][];
        long expected = tableEnd + HashBytes;
        for (int i = 0; i < count; i++)
        {
            var e = table.AsSpan(FixedBytes + i * TableEntryBytes, TableEntryBytes);
            kinds[i] = (SectionKind)BinaryPrimitives.ReadUInt32LittleEndian(e);
            if (kinds[i] != (SectionKind)(i + 1))
                throw new InvalidDataException($"{path}: unexpected section kind {(uint)kinds[i]} at position {i} (written by a newer pcnative?)");
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(e[4..]);
            if (length > (ulong)fileLength)
                throw new InvalidDataException($"{path}: truncated model file ({fileLength} bytes, its {SectionName(kinds[i])} section alone is {length})");
            lengths[i] = (long)length;
            hashes[i] = e[12..].ToArray();
            expected += lengths[i];
        }
        if (expected != fileLength)
            throw new InvalidDataException($"{path}: truncated or padded model file ({fileLength} bytes, its section table says {expected})");

        // Header.
        if (lengths[0] is 0 or > MaxHeaderBytes)
            throw new InvalidDataException($"{path}: corrupt header length {lengths[0]}");
        var json = new byte[lengths[0]];
        s.ReadExactly(json);
        Verify(path, SectionKind.Header, SHA256.HashData(json), hashes[0]);
        var h = ParseHeader(path, json);
        long values = (long)h.BankRows * h.FeatureDim; // both are int: no overflow, and x 4 below neither once capped
        if (values > Array.MaxLength) throw new InvalidDataException($"{path}: memory bank of {h.BankRows} x {h.FeatureDim} is too large");
        if (lengths[1] != values * sizeof(float))
            throw new InvalidDataException($"{path}: memory bank section holds {lengths[1]} bytes, the header's {h.BankRows} x {h.FeatureDim} floats need {values * sizeof(float)}");

        // Memory bank, hashed as it is read (no second copy of a bank that may be gigabytes).
        var bank = GC.AllocateUninitializedArray<float>((int)values);
        using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            const int chunk = 1 << 20;
            for (long o = 0; o < values; o += chunk)
            {
                var part = MemoryMarshal.AsBytes(bank.AsSpan((int)o, (int)Math.Min(chunk, values - o)));
                s.ReadExactly(part);
                hash.AppendData(part);
            }
            Verify(path, SectionKind.Bank, hash.GetHashAndReset(), hashes[1]);
        }

        // Backbone weights.
        WeightFile? weights = null;
        if (count == 3)
        {
            if (lengths[2] > Array.MaxLength) throw new InvalidDataException($"{path}: backbone weights section too large");
            var bytes = GC.AllocateUninitializedArray<byte>((int)lengths[2]);
            s.ReadExactly(bytes);
            Verify(path, SectionKind.Weights, SHA256.HashData(bytes), hashes[2]);
            weights = WeightBytes.Parse(bytes, $"{path} (embedded backbone weights)", h.WeightsSha256);
        }
        var model = Build(path, h, bank);
        model.EmbeddedWeights = weights;
        return model;
    }

    static void Verify(string path, SectionKind kind, ReadOnlySpan<byte> actual, ReadOnlySpan<byte> expected)
    {
        if (!actual.SequenceEqual(expected))
            throw new InvalidDataException($"{path}: {SectionName(kind)} checksum mismatch (corrupt file)");
    }

    static Header ParseHeader(string path, byte[] json)
    {
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
        return h;
    }

    static PatchCoreModel Build(string path, Header h, float[] bank)
    {
        try { h.Config.Validate(); }
        catch (ArgumentException e) { throw new InvalidDataException($"{path}: {e.Message}"); }
        return new PatchCoreModel(h.Config, bank, h.BankRows, h.FeatureDim, h.GridH, h.GridW, h.WeightsSha256, h.TrainImages)
        {
            Calibration = h.Calibration,
        };
    }

    /// <summary>Format 1: magic, u32 version, u64 header length, header, bank; nothing to verify but the lengths.</summary>
    static PatchCoreModel LoadVersion1(string path, FileStream s, ReadOnlySpan<byte> start)
    {
        Span<byte> rest = stackalloc byte[4];
        if (s.ReadAtLeast(rest, 4, throwOnEndOfStream: false) < 4)
            throw new InvalidDataException($"{path}: truncated model file");
        ulong headerLength = BinaryPrimitives.ReadUInt32LittleEndian(start[12..]) | (ulong)BinaryPrimitives.ReadUInt32LittleEndian(rest) << 32;
        const int fixedPart = 20;
        if (headerLength == 0 || headerLength > MaxHeaderBytes || (long)headerLength > s.Length - fixedPart)
            throw new InvalidDataException($"{path}: corrupt model header length {headerLength}");
        var json = new byte[headerLength];
        s.ReadExactly(json);
        var h = ParseHeader(path, json);
        long values = (long)h.BankRows * h.FeatureDim; // both are int: no overflow, and x 4 below neither once capped
        if (values > Array.MaxLength) throw new InvalidDataException($"{path}: memory bank of {h.BankRows} x {h.FeatureDim} is too large");
        long expected = fixedPart + (long)headerLength + values * 4;
        if (s.Length != expected)
            throw new InvalidDataException($"{path}: truncated or padded model file ({s.Length} bytes, expected {expected})");
        var bank = new float[values];
        const int chunk = 1 << 20;
        for (long o = 0; o < values; o += chunk)
            s.ReadExactly(MemoryMarshal.AsBytes(bank.AsSpan((int)o, (int)Math.Min(chunk, values - o))));
        return Build(path, h, bank);
    }
}
