using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using PatchCore.IO;
using PatchCore.Tensors;

namespace PatchCore.Weights;

/// <summary>
/// The safetensors format (huggingface): 8-byte little-endian header length N, N bytes of JSON
/// {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {string: string}}, then the
/// raw little-endian tensor bytes, offsets relative to the end of the header. We write float32 only; we read
/// F32, F16, BF16 and F64 (converted to float32) so files from other tools load too.
/// </summary>
public static class Safetensors
{
    const string MetadataKey = "__metadata__";
    // A JSON header larger than this is not a weight file (real ones are a few hundred KB at most).
    const long MaxHeaderBytes = 100L << 20;

    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        AtomicFile.RemoveStale(Path.GetDirectoryName(Path.GetFullPath(path))!);
        AtomicFile.Write(path, stream => Write(stream, tensors, metadata));
    }

    /// <summary>The file's bytes onto a stream (a model file embeds them as one section).</summary>
    public static void Write(Stream stream, IReadOnlyDictionary<string, Tensor> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors writer needs a little-endian host");
        var names = tensors.Keys.ToList();
        names.Sort(StringComparer.Ordinal); // deterministic files: same tensors, same bytes, same identity hash

        using var headerStream = new MemoryStream();
        using (var w = new Utf8JsonWriter(headerStream))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject(MetadataKey);
                var keys = metadata.Keys.ToList();
                keys.Sort(StringComparer.Ordinal);
                foreach (var k in keys) w.WriteString(k, metadata[k]);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var name in names)
            {
                if (name == MetadataKey) throw new ArgumentException($"'{MetadataKey}' is not a valid tensor name");
                var t = tensors[name];
                long bytes = t.Length * sizeof(float);
                w.WriteStartObject(name);
                w.WriteString("dtype", "F32");
                w.WriteStartArray("shape");
                foreach (int d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        // Pad the header with spaces so the data starts 8-byte aligned (what the reference writer does).
        while (headerStream.Length % 8 != 0) headerStream.WriteByte((byte)' ');

        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)headerStream.Length);
        stream.Write(len);
        headerStream.Position = 0;
        headerStream.CopyTo(stream);
        foreach (var name in names)
            stream.Write(MemoryMarshal.AsBytes(tensors[name].Data.AsSpan()));
    }

    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(string path) =>
        Read(path, null);

    /// <summary>Read, skipping (but still bounds-checking) tensors for which <paramref name="include"/> is
    /// false; a skipped tensor may have any known dtype (e.g. torch's I64 num_batches_tracked).</summary>
    internal static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(string path,
        Func<string, bool>? include)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Read(fs, path, include);
    }

    /// <summary>Read safetensors bytes from a seekable stream (a model file's embedded weights); errors name
    /// <paramref name="path"/>, the file or section the bytes came from.</summary>
    internal static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(Stream fs, string path,
        Func<string, bool>? include)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors reader needs a little-endian host");
        long fileLength = fs.Length;
        InvalidDataException Bad(string problem) => new($"{path}: not a valid safetensors file: {IO.ErrorText.OneLine(problem, 300)}");

        if (fileLength < 8) throw Bad($"file is {fileLength} bytes, shorter than the 8-byte header length");
        Span<byte> lenBytes = stackalloc byte[8];
        fs.ReadExactly(lenBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (headerLength > (ulong)(fileLength - 8))
            throw Bad($"header length {headerLength} runs past the end of the file ({fileLength} bytes)");
        if (headerLength > MaxHeaderBytes) throw Bad($"header length {headerLength} is implausibly large");
        var header = new byte[headerLength];
        fs.ReadExactly(header);
        long dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<(string Name, string Dtype, int[] Shape, long Begin, long End)>();
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header); }
        catch (JsonException e) { throw Bad($"header is not valid JSON ({e.Message})"); }
        using (doc)
        try
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Bad("header is not a JSON object");
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == MetadataKey)
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw Bad("__metadata__ is not an object");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw Bad($"__metadata__ value '{m.Name}' is not a string");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                entries.Add(ParseEntry(prop, Bad));
            }
        }
        catch (InvalidOperationException e)
        {
            // System.Text.Json parses invalid UTF-8 inside strings and only fails when a name or value is read.
            throw Bad($"header is not valid UTF-8 JSON ({e.Message})");
        }

        // Offsets must lie inside the data section and the byte count must equal shape x dtype size.
        foreach (var e in entries)
        {
            if (e.Begin < 0 || e.End < e.Begin || e.End > dataLength)
                throw Bad($"tensor '{e.Name}' data_offsets [{e.Begin},{e.End}] are outside the data section ({dataLength} bytes)");
            // Compared in elements: the span is bounded by the file, while shape x dtype size may not fit a long.
            long count = ElementCount(e.Shape, e.Name, Bad), span = e.End - e.Begin;
            int size = DtypeSize(e.Dtype);
            if (span % size != 0 || span / size != count)
                throw Bad($"tensor '{e.Name}' has shape [{string.Join(",", e.Shape)}] {e.Dtype} = {(count > long.MaxValue / size ? "too many" : count * size)} bytes, but data_offsets span {span} bytes");
        }

        // The data section is indexed without overlaps (as the format requires), so all tensors together are
        // no larger than the file: a header cannot make many tensors share one region and multiply the memory.
        var byBegin = entries.ToArray();
        Array.Sort(byBegin, (a, b) => a.Begin.CompareTo(b.Begin));
        long usedEnd = 0;
        string previous = "";
        foreach (var e in byBegin)
        {
            if (e.End == e.Begin) continue; // empty tensors take no bytes
            if (e.Begin < usedEnd) throw Bad($"tensors '{previous}' and '{e.Name}' overlap in the data section");
            usedEnd = e.End;
            previous = e.Name;
        }

        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var e in entries)
        {
            if (include != null && !include(e.Name)) continue;
            long count = ElementCount(e.Shape, e.Name, Bad);
            if (count > Array.MaxLength) throw Bad($"tensor '{e.Name}' is too large");
            var data = new float[count];
            fs.Position = dataStart + e.Begin;
            ReadAsFloat(fs, e.Dtype, data, e.Name, Bad);
            tensors[e.Name] = new Tensor(data, e.Shape);
        }
        return (tensors, metadata);
    }

    static long ElementCount(int[] shape, string name, Func<string, InvalidDataException> bad)
    {
        try { return Tensor.ShapeLength(shape); }
        catch (InvalidDataException) { throw bad($"tensor '{name}' shape [{string.Join(",", shape)}] is too large"); }
    }

    static (string, string, int[], long, long) ParseEntry(JsonProperty prop, Func<string, InvalidDataException> bad)
    {
        var v = prop.Value;
        if (v.ValueKind != JsonValueKind.Object) throw bad($"entry '{prop.Name}' is not an object");
        if (!v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw bad($"tensor '{prop.Name}' has no dtype");
        string dtype = dt.GetString()!;
        if (DtypeSize(dtype) == 0) throw bad($"tensor '{prop.Name}' has unknown dtype '{dtype}'");
        if (!v.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw bad($"tensor '{prop.Name}' has no shape");
        var shape = new int[sh.GetArrayLength()];
        int i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int n) || n < 0)
                throw bad($"tensor '{prop.Name}' has an invalid shape {sh.GetRawText()}");
            shape[i++] = n;
        }
        if (!v.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw bad($"tensor '{prop.Name}' has no data_offsets pair");
        long[] o = new long[2];
        i = 0;
        foreach (var d in off.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long n))
                throw bad($"tensor '{prop.Name}' has invalid data_offsets {off.GetRawText()}");
            o[i++] = n;
        }
        return (prop.Name, dtype, shape, o[0], o[1]);
    }

    /// <summary>Bytes per element of a safetensors dtype; 0 when unknown. Integer and bool dtypes are
    /// known (so files holding them parse) but only the floating ones convert to float32.</summary>
    static int DtypeSize(string dtype) => dtype switch
    {
        "F64" or "I64" or "U64" => 8,
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        "I8" or "U8" or "BOOL" or "F8_E4M3" or "F8_E5M2" => 1,
        _ => 0,
    };

    static void ReadAsFloat(Stream s, string dtype, float[] dst, string name, Func<string, InvalidDataException> bad)
    {
        switch (dtype)
        {
            case "F32":
                s.ReadExactly(MemoryMarshal.AsBytes(dst.AsSpan()));
                return;
            case "F16":
            {
                var tmp = new Half[dst.Length];
                s.ReadExactly(MemoryMarshal.AsBytes(tmp.AsSpan()));
                for (int i = 0; i < dst.Length; i++) dst[i] = (float)tmp[i];
                return;
            }
            case "BF16":
            {
                var tmp = new ushort[dst.Length];
                s.ReadExactly(MemoryMarshal.AsBytes(tmp.AsSpan()));
                // bfloat16 is the top half of a float32.
                for (int i = 0; i < dst.Length; i++) dst[i] = BitConverter.Int32BitsToSingle(tmp[i] << 16);
                return;
            }
            case "F64":
            {
                var tmp = new double[dst.Length];
                s.ReadExactly(MemoryMarshal.AsBytes(tmp.AsSpan()));
                for (int i = 0; i < dst.Length; i++) dst[i] = (float)tmp[i];
                return;
            }
            default:
                throw bad($"tensor '{name}' has dtype {dtype}; only F32, F16, BF16 and F64 are supported");
        }
    }
}
