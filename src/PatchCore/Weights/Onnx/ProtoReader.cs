using System.Buffers.Binary;

namespace PatchCore.Weights.Onnx;

/// <summary>
/// Minimal protobuf wire-format reader (varint, fixed64, length-delimited, fixed32), enough to walk ONNX
/// messages. Any read past the end throws <see cref="InvalidDataException"/> (truncated file).
/// </summary>
internal ref struct ProtoReader
{
    public const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5;

    readonly ReadOnlySpan<byte> _data;
    int _pos;

    public ProtoReader(ReadOnlySpan<byte> data) { _data = data; _pos = 0; }

    public bool End => _pos >= _data.Length;

    /// <summary>Next field key: field number and wire type.</summary>
    public (int Field, int WireType) ReadTag()
    {
        ulong key = ReadVarint();
        int field = (int)(key >> 3);
        if (field <= 0) throw new InvalidDataException($"invalid protobuf field number {field} at byte {_pos}");
        return (field, (int)(key & 7));
    }

    public ulong ReadVarint()
    {
        ulong result = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (_pos >= _data.Length) throw Truncated();
            byte b = _data[_pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw new InvalidDataException($"malformed protobuf varint at byte {_pos}");
    }

    public long ReadInt64() => (long)ReadVarint();

    public uint ReadFixed32()
    {
        if (_data.Length - _pos < 4) throw Truncated();
        uint v = BinaryPrimitives.ReadUInt32LittleEndian(_data.Slice(_pos, 4));
        _pos += 4;
        return v;
    }

    public ulong ReadFixed64()
    {
        if (_data.Length - _pos < 8) throw Truncated();
        ulong v = BinaryPrimitives.ReadUInt64LittleEndian(_data.Slice(_pos, 8));
        _pos += 8;
        return v;
    }

    public float ReadFloat() => BitConverter.UInt32BitsToSingle(ReadFixed32());
    public double ReadDouble() => BitConverter.UInt64BitsToDouble(ReadFixed64());

    public ReadOnlySpan<byte> ReadBytes()
    {
        ulong len = ReadVarint();
        if (len > (ulong)(_data.Length - _pos)) throw Truncated();
        var s = _data.Slice(_pos, (int)len);
        _pos += (int)len;
        return s;
    }

    public string ReadString() => System.Text.Encoding.UTF8.GetString(ReadBytes());

    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case Varint: ReadVarint(); break;
            case Fixed64: ReadFixed64(); break;
            case LengthDelimited: ReadBytes(); break;
            case Fixed32: ReadFixed32(); break;
            default: throw new InvalidDataException($"unsupported protobuf wire type {wireType} at byte {_pos}");
        }
    }

    /// <summary>Repeated int64: packed (length-delimited) or one varint per tag.</summary>
    public void ReadInt64s(int wireType, List<long> into)
    {
        if (wireType == LengthDelimited)
        {
            var inner = new ProtoReader(ReadBytes());
            while (!inner.End) into.Add(inner.ReadInt64());
        }
        else if (wireType == Varint) into.Add(ReadInt64());
        else throw new InvalidDataException($"expected int64 field, found wire type {wireType}");
    }

    /// <summary>Repeated float: packed or one fixed32 per tag.</summary>
    public void ReadFloats(int wireType, List<float> into)
    {
        if (wireType == LengthDelimited)
        {
            var bytes = ReadBytes();
            if (bytes.Length % 4 != 0) throw new InvalidDataException("packed float field length is not a multiple of 4");
            for (int i = 0; i < bytes.Length; i += 4)
                into.Add(BitConverter.UInt32BitsToSingle(BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice(i, 4))));
        }
        else if (wireType == Fixed32) into.Add(ReadFloat());
        else throw new InvalidDataException($"expected float field, found wire type {wireType}");
    }

    /// <summary>Repeated double: packed or one fixed64 per tag.</summary>
    public void ReadDoubles(int wireType, List<double> into)
    {
        if (wireType == LengthDelimited)
        {
            var bytes = ReadBytes();
            if (bytes.Length % 8 != 0) throw new InvalidDataException("packed double field length is not a multiple of 8");
            for (int i = 0; i < bytes.Length; i += 8)
                into.Add(BitConverter.UInt64BitsToDouble(BinaryPrimitives.ReadUInt64LittleEndian(bytes.Slice(i, 8))));
        }
        else if (wireType == Fixed64) into.Add(ReadDouble());
        else throw new InvalidDataException($"expected double field, found wire type {wireType}");
    }

    InvalidDataException Truncated() => new($"truncated protobuf data (needed bytes past offset {_pos} of {_data.Length})");
}
