using BitMiracle.LibTiff.Classic;

namespace PatchCore.IO;

/// <summary>
/// TIFF → interleaved 8-bit RGB (HWC), what line cameras write. LibTiff.NET does the container and the
/// decompression (none, LZW, Deflate, PackBits, ...; strips or tiles; either byte order); this class turns the
/// decoded samples into RGB the way the rest of pcnative sees every image:
/// <list type="bullet">
/// <item>Photometric MinIsBlack / MinIsWhite (gray, replicated to R=G=B; MinIsWhite inverted), RGB, Palette.
/// Extra samples (alpha) are dropped, not composited, as for PNG.</item>
/// <item>8-bit samples as they are. 16-bit samples keep their high byte, v &gt;&gt; 8 (floor of v / 256.996, so
/// it can be one below round(v / 257)): what torchvision's convert_image_dtype / ToDtype(scale=True) does
/// from uint16, what PIL does for 16-bit RGB, and what our PNG path (stb_image) does for 16-bit PNG, so a
/// 16-bit PNG and a 16-bit TIFF of the same samples decode alike. (PIL clips 16-bit gray to 255, which would
/// make such images white; we do not copy that.) 1/2/4-bit gray is scaled to 0..255 as PIL unpacks it;
/// palette entries (16-bit) keep their high byte as PIL does.</item>
/// <item>First page only; the Orientation tag is ignored (PIL's Image.open does not apply it either).</item>
/// </list>
/// Every failure is an <see cref="InvalidDataException"/> naming the image. Sizes are checked before the output
/// is allocated: at most <see cref="MaxPixels"/> pixels, and no more decoded bytes than the file could expand to.
/// </summary>
public static class TiffDecoder
{
    /// <summary>PIL's decompression-bomb limit (2 x Image.MAX_IMAGE_PIXELS): larger images are refused.</summary>
    public const long MaxPixels = ImageSizeGuard.MaxPixels;

    /// <summary>Decoded bytes a file byte may become. LZW on constant data reaches ~1400:1 and Deflate 1032:1;
    /// a declared size beyond this is a corrupt or hostile header, refused before allocating.</summary>
    const long MaxExpansion = 4096;
    const long ExpansionSlack = 1 << 20;

    static TiffDecoder() => Tiff.SetErrorHandler(new QuietHandler());

    /// <summary>Classic TIFF ("II*\0" little-endian, "MM\0*" big-endian) or BigTIFF (43 instead of 42).</summary>
    public static bool IsTiff(ReadOnlySpan<byte> b) =>
        b.Length >= 4 && ((b[0] == 'I' && b[1] == 'I' && (b[2] == 42 || b[2] == 43) && b[3] == 0)
                          || (b[0] == 'M' && b[1] == 'M' && b[2] == 0 && (b[3] == 42 || b[3] == 43)));

    /// <summary>Decode the first page; <paramref name="name"/> is what errors call the image.</summary>
    public static (int Width, int Height, byte[] Pixels) Decode(byte[] bytes, string name)
    {
        t_lastError = null;
        PreCheck(bytes, name);
        try
        {
            using var stream = new MemoryStream(bytes, writable: false);
            using var tif = Tiff.ClientOpen(name, "r", stream, new TiffStream())
                ?? throw Bad(name, t_lastError ?? "not a readable TIFF");
            return Read(tif, bytes.LongLength, name);
        }
        catch (Exception e) when (e is not (InvalidDataException or OutOfMemoryException))
        {
            // LibTiff.NET can throw its own exceptions on malformed files; they mean "corrupt", not "bug here".
            throw Bad(name, $"{e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>
    /// Walk the first directory before LibTiff does: LibTiff.NET allocates each tag's values and the strip/tile
    /// tables from the counts it reads, unchecked, so a flipped count in a 400-byte file asks for gigabytes.
    /// Refused here: a directory or a tag's values outside the file, a size beyond <see cref="MaxPixels"/> or
    /// beyond what the file can expand to, and more strips or tiles than the file lists offsets for.
    /// </summary>
    static void PreCheck(byte[] b, string name)
    {
        long len = b.LongLength;
        bool le = b[0] == 'I', big = (le ? b[2] : b[3]) == 43;
        ulong U(long at, int size)
        {
            if (at < 0 || at > len - size) throw Bad(name, $"truncated: needs bytes {at}..{at + size} of {len}");
            ulong v = 0;
            for (int i = 0; i < size; i++) v |= (ulong)b[at + (le ? i : size - 1 - i)] << (8 * i);
            return v;
        }
        long Long(ulong v) => v > (ulong)len ? long.MaxValue : (long)v; // anything past the end is just "too far"

        long ifd = Long(big ? U(8, 8) : U(4, 4));
        int countSize = big ? 8 : 2, entrySize = big ? 20 : 12, inline = big ? 8 : 4;
        long entries = Long(U(ifd, countSize));
        if (entries > (len - ifd - countSize) / entrySize) throw Bad(name, $"directory at {ifd} with {entries} entries runs past the end of the file");

        long width = 0, height = 0, bits = 1, spp = 1, rowsPerStrip = uint.MaxValue, tileW = 0, tileH = 0, strips = -1, tiles = -1;
        bool planarSeparate = false;
        for (long e = 0; e < entries; e++)
        {
            long at = ifd + countSize + e * entrySize;
            int tag = (int)U(at, 2), type = (int)U(at + 2, 2);
            long count = Long(big ? U(at + 4, 8) : U(at + 4, 4));
            int size = type switch { 1 or 2 or 6 or 7 => 1, 3 or 8 => 2, 4 or 9 or 11 or 13 => 4, 5 or 10 or 12 or 16 or 17 or 18 => 8, _ => 0 };
            if (size == 0) continue; // LibTiff skips unknown types
            if (count > len / size) throw Bad(name, $"tag {tag} declares {count} values, more than the {len}-byte file holds");
            long valueAt = count * size <= inline ? at + 4 + (big ? 8 : 4) : Long(big ? U(at + 12, 8) : U(at + 8, 4));
            if (count > 0 && valueAt > len - count * size) throw Bad(name, $"tag {tag}'s values lie outside the file");
            long first = count == 0 || size > 8 ? 0 : type is 3 or 8 ? (long)U(valueAt, 2) : type is 4 or 9 or 13 ? (long)U(valueAt, 4)
                : type is 16 or 17 or 18 ? Long(U(valueAt, 8)) : size == 1 ? b[valueAt] : 0;
            first = Math.Min(first, uint.MaxValue); // keeps the products below within a long
            switch (tag)
            {
                case 256: width = first; break;
                case 257: height = first; break;
                case 258: bits = first; break;
                case 277: spp = first; break;
                case 278: rowsPerStrip = first; break;
                case 284: planarSeparate = first == 2; break;
                case 322: tileW = first; break;
                case 323: tileH = first; break;
                case 273: strips = count; break;
                case 324: tiles = count; break;
            }
        }
        if (width < 1 || height < 1) return; // LibTiff reports the missing size in its words
        if (width > MaxPixels / height) throw Bad(name, $"{width}x{height} is more than {MaxPixels} pixels");
        long decodedBytes = (width * Math.Clamp(spp, 1, 64) * Math.Clamp(bits, 1, 64) + 7) / 8 * height;
        if (decodedBytes > ExpansionSlack + MaxExpansion * len)
            throw Bad(name, $"declares {width}x{height}x{spp} samples of {bits} bits, more than a {len}-byte file can hold");
        long planes = planarSeparate ? Math.Max(spp, 1) : 1;
        if (tileW > 0 && tileH > 0)
        {
            long needed = (width + tileW - 1) / tileW * ((height + tileH - 1) / tileH) * planes;
            if (tiles >= 0 && needed > tiles) throw Bad(name, $"{needed} tiles but the file lists {tiles}");
        }
        else if (strips >= 0 && rowsPerStrip > 0 && (height + rowsPerStrip - 1) / rowsPerStrip * planes > strips)
            throw Bad(name, $"{(height + rowsPerStrip - 1) / rowsPerStrip * planes} strips but the file lists {strips}");
    }

    static (int, int, byte[]) Read(Tiff tif, long fileLength, string name)
    {
        int width = Required(tif, TiffTag.IMAGEWIDTH, name), height = Required(tif, TiffTag.IMAGELENGTH, name);
        int bits = Defaulted(tif, TiffTag.BITSPERSAMPLE), spp = Defaulted(tif, TiffTag.SAMPLESPERPIXEL);
        var photometric = (Photometric)Required(tif, TiffTag.PHOTOMETRIC, name);
        var planar = (PlanarConfig)Defaulted(tif, TiffTag.PLANARCONFIG);
        var format = (SampleFormat)Defaulted(tif, TiffTag.SAMPLEFORMAT);

        if (width < 1 || height < 1) throw Bad(name, $"image size {width}x{height}");
        if ((long)width * height > MaxPixels) throw Bad(name, $"{width}x{height} is more than {MaxPixels} pixels");
        if (format is not (SampleFormat.UINT or SampleFormat.VOID))
            throw Bad(name, $"sample format {format} is not supported (unsigned integer samples only)");
        int channels = photometric switch
        {
            Photometric.MINISBLACK or Photometric.MINISWHITE or Photometric.PALETTE => 1,
            Photometric.RGB => 3,
            _ => throw Bad(name, $"photometric interpretation {photometric} is not supported (gray, RGB or palette)"),
        };
        if (spp < channels || (photometric == Photometric.PALETTE && spp != 1))
            throw Bad(name, $"{spp} samples per pixel for photometric {photometric}");
        bool ok = bits switch
        {
            8 => true,
            16 => photometric != Photometric.PALETTE,
            1 or 2 or 4 => spp == 1,
            _ => false,
        };
        if (!ok) throw Bad(name, $"{bits}-bit {photometric} with {spp} samples per pixel is not supported (8 or 16 bits; 1, 2, 4 for gray or palette)");
        long decodedBytes = ((long)width * spp * bits + 7) / 8 * height;
        if (decodedBytes > ExpansionSlack + MaxExpansion * fileLength)
            throw Bad(name, $"declares {width}x{height}x{spp} samples of {bits} bits, more than a {fileLength}-byte file can hold");

        CheckChunks(tif, fileLength, name);

        var map = new SampleMap(photometric, bits, Palette(tif, photometric, bits, name));
        var rgb = new byte[(long)width * height * 3];
        bool separate = planar == PlanarConfig.SEPARATE && spp > 1;
        // Contiguous: one pass reads every sample. Separate: one pass per colour plane (alpha planes are skipped).
        int passes = separate ? channels : 1;
        for (int plane = 0; plane < passes; plane++)
        {
            int stride = separate ? 1 : spp;
            int firstChannel = separate ? plane : 0, channelCount = separate ? 1 : channels;
            if (tif.IsTiled()) ReadTiles(tif, width, height, (short)plane, stride, firstChannel, channelCount, map, rgb, name);
            else ReadStrips(tif, width, height, (short)plane, stride, firstChannel, channelCount, map, rgb, name);
        }
        return (width, height, rgb);
    }

    static void ReadStrips(Tiff tif, int width, int height, short plane, int stride, int firstChannel, int channelCount,
        SampleMap map, byte[] rgb, string name)
    {
        int size = tif.ScanlineSize();
        if (size < ((long)width * stride * map.Bits + 7) / 8) throw Bad(name, $"scanline of {size} bytes is too short");
        var row = new byte[size];
        for (int y = 0; y < height; y++)
        {
            if (!tif.ReadScanline(row, y, plane)) throw Bad(name, t_lastError ?? $"cannot read row {y}");
            map.Put(row, stride, firstChannel, channelCount, width, rgb, (long)y * width);
        }
    }

    static void ReadTiles(Tiff tif, int width, int height, short plane, int stride, int firstChannel, int channelCount,
        SampleMap map, byte[] rgb, string name)
    {
        int tw = Required(tif, TiffTag.TILEWIDTH, name), th = Required(tif, TiffTag.TILELENGTH, name);
        int tileSize = tif.TileSize(), rowSize = tif.TileRowSize();
        if (tw < 1 || th < 1 || rowSize < ((long)tw * stride * map.Bits + 7) / 8 || tileSize < (long)rowSize * th)
            throw Bad(name, $"tile {tw}x{th} ({tileSize} bytes) does not hold its samples");
        var tile = new byte[tileSize];
        for (int ty = 0; ty < height; ty += th)
            for (int tx = 0; tx < width; tx += tw)
            {
                if (tif.ReadTile(tile, 0, tx, ty, 0, plane) < 0) throw Bad(name, t_lastError ?? $"cannot read the tile at {tx},{ty}");
                int cols = Math.Min(tw, width - tx), rows = Math.Min(th, height - ty);
                for (int r = 0; r < rows; r++)
                    map.Put(tile.AsSpan(r * rowSize, rowSize), stride, firstChannel, channelCount, cols, rgb, (long)(ty + r) * width + tx);
            }
    }

    /// <summary>Every strip or tile must lie inside the file: LibTiff allocates a read buffer of the declared byte
    /// count before reading, so a corrupt count would otherwise allocate gigabytes for a few-byte file.</summary>
    static void CheckChunks(Tiff tif, long fileLength, string name)
    {
        bool tiled = tif.IsTiled();
        var offsets = tif.GetField(tiled ? TiffTag.TILEOFFSETS : TiffTag.STRIPOFFSETS);
        var counts = tif.GetField(tiled ? TiffTag.TILEBYTECOUNTS : TiffTag.STRIPBYTECOUNTS);
        if (offsets == null || counts == null)
            throw Bad(name, $"no {(tiled ? "tile" : "strip")} offsets or byte counts");
        long[] o = Longs(offsets), c = Longs(counts);
        int chunks = tiled ? tif.NumberOfTiles() : tif.NumberOfStrips();
        if (o.Length < chunks || c.Length < chunks) throw Bad(name, $"{chunks} {(tiled ? "tiles" : "strips")} but {Math.Min(o.Length, c.Length)} offsets");
        for (int i = 0; i < chunks; i++)
            if (o[i] < 0 || c[i] < 0 || o[i] > fileLength || c[i] > fileLength - o[i])
                throw Bad(name, $"{(tiled ? "tile" : "strip")} {i} (offset {o[i]}, {c[i]} bytes) lies outside the {fileLength}-byte file");
    }

    static long[] Longs(FieldValue[] values)
    {
        // LibTiff.NET hands offsets and counts back as an array of long, ulong, int or uint (by version and
        // file kind), alone or after a count: take the first array.
        foreach (var v in values)
            switch (v.Value)
            {
                case long[] l: return l;
                case ulong[] ul: return Array.ConvertAll(ul, x => x > long.MaxValue ? -1 : (long)x);
                case int[] i: return Array.ConvertAll(i, x => (long)(uint)x);
                case uint[] ui: return Array.ConvertAll(ui, x => (long)x);
            }
        return [];
    }

    /// <summary>The colour map's 16-bit entries reduced to 8 bits (high byte, as PIL); null unless palette.</summary>
    static byte[][]? Palette(Tiff tif, Photometric photometric, int bits, string name)
    {
        if (photometric != Photometric.PALETTE) return null;
        var f = tif.GetField(TiffTag.COLORMAP);
        if (f == null || f.Length < 3) throw Bad(name, "palette image without a colour map");
        int n = 1 << bits;
        var result = new byte[3][];
        for (int c = 0; c < 3; c++)
        {
            short[] entries = f[c].ToShortArray();
            if (entries == null || entries.Length < n) throw Bad(name, $"colour map has fewer than {n} entries");
            result[c] = new byte[n];
            for (int i = 0; i < n; i++) result[c][i] = (byte)((ushort)entries[i] >> 8);
        }
        return result;
    }

    /// <summary>Raw samples → RGB bytes for one photometric interpretation and bit depth.</summary>
    sealed class SampleMap(Photometric photometric, int bits, byte[][]? palette)
    {
        public int Bits => bits;
        readonly int _lowMax = (1 << Math.Min(bits, 8)) - 1;

        /// <summary>Write <paramref name="count"/> pixels of one decoded row (samples <paramref name="stride"/>
        /// apart) to RGB pixels from <paramref name="firstPixel"/> on: channels firstChannel.. of RGB, or all
        /// three for gray and palette.</summary>
        public void Put(ReadOnlySpan<byte> row, int stride, int firstChannel, int channelCount, int count, byte[] rgb, long firstPixel)
        {
            for (int i = 0; i < count; i++)
            {
                long o = (firstPixel + i) * 3;
                for (int c = 0; c < channelCount; c++)
                {
                    int raw = Sample(row, i * stride + c);
                    switch (photometric)
                    {
                        case Photometric.RGB:
                            rgb[o + firstChannel + c] = Scale(raw);
                            break;
                        case Photometric.PALETTE:
                            rgb[o] = palette![0][raw]; rgb[o + 1] = palette[1][raw]; rgb[o + 2] = palette[2][raw];
                            break;
                        default:
                            byte g = Scale(raw);
                            if (photometric == Photometric.MINISWHITE) g = (byte)(255 - g);
                            rgb[o] = g; rgb[o + 1] = g; rgb[o + 2] = g;
                            break;
                    }
                }
            }
        }

        /// <summary>Sample k of a row. LibTiff hands 16-bit samples over in host byte order; sub-byte samples are
        /// packed most significant bit first (it has already applied FillOrder).</summary>
        int Sample(ReadOnlySpan<byte> row, int k) => bits switch
        {
            8 => row[k],
            16 => BitConverter.ToUInt16(row.Slice(2 * k, 2)),
            _ => (row[k * bits / 8] >> (8 - bits - k * bits % 8)) & _lowMax,
        };

        // 16 → 8 bits: the high byte (see the class comment). 1/2/4 bits: v * 255 / (2^bits - 1), as PIL unpacks.
        byte Scale(int raw) => bits switch
        {
            8 => (byte)raw,
            16 => (byte)(raw >> 8),
            _ => (byte)(raw * 255 / _lowMax),
        };
    }

    static int Required(Tiff tif, TiffTag tag, string name)
    {
        var f = tif.GetField(tag);
        if (f == null || f.Length == 0) throw Bad(name, $"missing tag {tag}");
        return f[0].ToInt();
    }

    static int Defaulted(Tiff tif, TiffTag tag)
    {
        var f = tif.GetFieldDefaulted(tag);
        return f == null || f.Length == 0 ? 0 : f[0].ToInt();
    }

    static InvalidDataException Bad(string name, string problem) => new($"{name}: cannot decode TIFF ({ErrorText.OneLine(problem)})");

    // LibTiff reports errors through one process-wide handler; its default prints to the console. Ours keeps the
    // first message of the current decode on this thread (LibTiff calls it synchronously) for the exception.
    [ThreadStatic] static string? t_lastError;

    sealed class QuietHandler : TiffErrorHandler
    {
        public override void ErrorHandler(Tiff tif, string method, string format, params object[] args) =>
            t_lastError ??= Format(method, format, args);
        public override void ErrorHandlerExt(Tiff tif, object clientData, string method, string format, params object[] args) { }
        public override void WarningHandler(Tiff tif, string method, string format, params object[] args) { }
        public override void WarningHandlerExt(Tiff tif, object clientData, string method, string format, params object[] args) { }

        static string Format(string method, string format, object[] args)
        {
            string text;
            try { text = string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args); }
            catch (FormatException) { text = format; }
            return string.IsNullOrEmpty(method) ? text : $"{method}: {text}";
        }
    }
}
