using System.Buffers.Binary;
using System.Text;
using PatchCore.IO;

namespace PatchCore.Report;

/// <summary>
/// A 2-D float32 array as a numpy .npy file (format version 1.0), so users can load a raw anomaly map with
/// <c>numpy.load</c>: the magic "\x93NUMPY", version 1 0, a little-endian uint16 header length, then an ASCII
/// dict <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (H, W), }</c> padded with spaces and ended by
/// '\n' so that the data starts at a multiple of 64 bytes, then H·W little-endian float32 values, row-major.
/// </summary>
public static class NpyFile
{
    static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0];

    /// <summary>The bytes of the header (magic to the final '\n').</summary>
    public static byte[] Header(int height, int width)
    {
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({height}, {width}), }}";
        int unpadded = Magic.Length + 2 + dict.Length + 1;
        int total = (unpadded + 63) / 64 * 64;
        var header = new byte[total];
        Magic.CopyTo(header, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), (ushort)(total - 10));
        Encoding.ASCII.GetBytes(dict, header.AsSpan(10));
        header.AsSpan(10 + dict.Length, total - 10 - dict.Length - 1).Fill((byte)' ');
        header[total - 1] = (byte)'\n';
        return header;
    }

    /// <summary>Write <paramref name="values"/> (height·width, row-major) atomically.</summary>
    public static void Write(string path, ReadOnlySpan<float> values, int height, int width, bool syncDirectory = true)
    {
        if (height < 1 || width < 1 || values.Length != (long)height * width)
            throw new ArgumentException($"npy: {values.Length} values are not {height} x {width}");
        var header = Header(height, width);
        var bytes = new byte[header.Length + values.Length * 4L];
        header.CopyTo(bytes, 0);
        var data = bytes.AsSpan(header.Length);
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(data.Slice(i * 4, 4), values[i]);
        AtomicFile.WriteAllBytes(path, bytes, syncDirectory);
    }

    /// <summary>Read back a file this class wrote (2-D little-endian float32, C order); anything else is refused.</summary>
    public static float[] Read(string path, out int height, out int width)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || !bytes.AsSpan(0, 8).SequenceEqual(Magic))
            throw new InvalidDataException($"{path}: not a .npy v1.0 file");
        int headerEnd = 10 + BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
        if (headerEnd > bytes.Length) throw new InvalidDataException($"{path}: truncated .npy header");
        string dict = Encoding.ASCII.GetString(bytes, 10, headerEnd - 10);
        if (!dict.Contains("'descr': '<f4'") || !dict.Contains("'fortran_order': False"))
            throw new InvalidDataException($"{path}: not a little-endian float32 C-order array");
        int open = dict.IndexOf("'shape': (", StringComparison.Ordinal), close = dict.IndexOf(')', Math.Max(open, 0));
        if (open < 0 || close < 0) throw new InvalidDataException($"{path}: .npy header without a shape");
        var dims = dict[(open + 10)..close].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (dims.Length != 2 || !int.TryParse(dims[0], out height) || !int.TryParse(dims[1], out width) || height < 0 || width < 0)
            throw new InvalidDataException($"{path}: .npy shape is not (H, W)");
        long count = (long)height * width;
        if (bytes.Length - headerEnd != count * 4) throw new InvalidDataException($"{path}: .npy holds {bytes.Length - headerEnd} data bytes, shape needs {count * 4}");
        var values = new float[count];
        for (long i = 0; i < count; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan((int)(headerEnd + i * 4), 4));
        return values;
    }
}
