using System.Diagnostics;
using PatchCore.Backbone;
using PatchCore.Backends;
using PatchCore.Data;
using PatchCore.IO;

namespace PatchCore.Features;

/// <summary>Patch features of a batch of images: rows [Count * GridH * GridW, Dim], image-major.
/// <see cref="Errors"/> (only when the extractor tolerates bad images) holds, per image of the batch, why it could
/// not be read (one printable line) or null; a failed image's features are those of a black input, to be ignored.</summary>
public sealed record FeatureBatch(int Start, int Count, float[] Features, int GridH, int GridW, int Dim, RgbImage[]? Crops)
{
    public int PatchesPerImage => GridH * GridW;
    public string?[]? Errors { get; init; }
}

/// <summary>Seconds spent in each part of feature extraction (decode counts CPU time on the decode threads).</summary>
public sealed class ExtractionTimes
{
    public double Decode, Backbone, Aggregation;
    /// <summary>Wall time the compute side waited for decoded batches.</summary>
    public double DecodeWait;
}

/// <summary>
/// Images → patch features (ALGORITHM.md "Patch features"): decode, resize + crop and normalise on CPU threads,
/// run the backbone to layer2 and layer3 in batches, aggregate with <see cref="IBackend.AggregatePatchFeatures"/>.
/// The next batch is decoded while the current one computes, which hides decoding behind a GPU; on the CPU
/// backend both compete for the same cores, so the overlap gains little there but costs nothing.
/// </summary>
public sealed class PatchFeatureExtractor
{
    readonly IBackend _backend;
    readonly ResNet _net;
    readonly ResizeSpec _resize;
    readonly Normalization _norm;
    readonly AggregationSpec _aggregation;
    readonly int _batchSize;
    readonly int _threads;

    public PatchFeatureExtractor(IBackend backend, ResNet net, ResizeSpec resize, Normalization norm,
        AggregationSpec aggregation, int batchSize, int decodeThreads = 0)
    {
        _backend = backend; _net = net; _resize = resize; _norm = norm; _aggregation = aggregation;
        _batchSize = Math.Max(1, batchSize);
        _threads = decodeThreads > 0 ? decodeThreads : Environment.ProcessorCount;
    }

    public ExtractionTimes Times { get; } = new();

    /// <summary>When set, an image that cannot be decoded does not stop the others: its batch reports it in
    /// <see cref="FeatureBatch.Errors"/> (predict scores every good file). Otherwise the first one throws.</summary>
    public bool TolerateBadImages { get; init; }

    /// <summary>Side of the square network input.</summary>
    public int InputSize => _resize.Crop;

    sealed record Decoded(float[] Input, RgbImage[]? Crops, int Count, string?[]? Errors);

    Decoded DecodeBatch(IReadOnlyList<string> paths, int start, int count, bool keepCrops)
    {
        long t0 = Stopwatch.GetTimestamp();
        int plane = 3 * _resize.Crop * _resize.Crop;
        var input = new float[(long)count * plane];
        var crops = keepCrops ? new RgbImage[count] : null;
        string?[]? errors = null;
        Workers.For(count, _threads, i =>
        {
            if (!TolerateBadImages) { DecodeOne(paths[start + i], input, crops, i, plane); return; }
            try { DecodeOne(paths[start + i], input, crops, i, plane); }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException or OverflowException)
            {
                // The input stays zero (the mean colour after normalisation): its features are computed with the batch and dropped.
                lock (input) (errors ??= new string?[count])[i] = Describe(paths[start + i], e);
                if (crops != null) crops[i] = new RgbImage(_resize.Crop, _resize.Crop, new byte[3 * _resize.Crop * _resize.Crop]);
            }
        });
        lock (Times) Times.Decode += Stopwatch.GetElapsedTime(t0).TotalSeconds;
        return new Decoded(input, crops, count, errors);
    }

    void DecodeOne(string path, float[] input, RgbImage[]? crops, int i, int plane)
    {
        var crop = Preprocessing.ResizeAndCrop(ImageFile.Decode(path), _resize);
        // Normalise the crop as it is: ToInput would resize and crop it a second time (a 224 crop of a
        // 256 image blown up to 256 and cropped again, which cost magnetic_tile 7 points of image AUROC).
        var x = Preprocessing.Normalize(crop, _norm);
        if (x.Length != plane) throw new InvalidDataException($"{path}: preprocessing gave {x.Length} values, expected {plane}");
        Array.Copy(x, 0, input, (long)i * plane, plane);
        if (crops != null) crops[i] = crop;
    }

    /// <summary>
    /// Why an image failed, as one printable line without its own path (the caller lists the path beside it).
    /// Decoder messages can carry raw bytes of the file (a truncated PNG gave 25 NULs): control characters are
    /// dropped, whitespace runs collapsed and the text capped, so errors.csv and the terminal stay clean.
    /// </summary>
    public static string Describe(string path, Exception e)
    {
        string m = e.Message;
        if (m.StartsWith(path + ": ", StringComparison.Ordinal)) m = m[(path.Length + 2)..];
        var sb = new System.Text.StringBuilder(Math.Min(m.Length, 200));
        bool space = false;
        foreach (char c in m)
        {
            if (sb.Length >= 200) { sb.Append('…'); break; }
            if (char.IsWhiteSpace(c)) { space = sb.Length > 0; continue; }
            if (char.IsControl(c) || char.IsSurrogate(c) || c == '\uFFFD') continue;
            if (space) { sb.Append(' '); space = false; }
            sb.Append(c);
        }
        string text = sb.ToString().Replace("()", "").Replace("( )", "").Trim();
        return text.Length == 0 ? "cannot read the image" : text;
    }

    /// <summary>Features of the images in order, one batch at a time. <paramref name="keepCrops"/> keeps the
    /// resized and cropped RGB images (for heat maps).</summary>
    public IEnumerable<FeatureBatch> Extract(IReadOnlyList<string> paths, bool keepCrops = false)
    {
        int n = paths.Count;
        if (n == 0) yield break;
        int size = _resize.Crop;
        Task<Decoded>? next = Task.Run(() => DecodeBatch(paths, 0, Math.Min(_batchSize, n), keepCrops));
        for (int start = 0; start < n; start += _batchSize)
        {
            int count = Math.Min(_batchSize, n - start);
            long tw = Stopwatch.GetTimestamp();
            Decoded decoded = next!.GetAwaiter().GetResult();
            Times.DecodeWait += Stopwatch.GetElapsedTime(tw).TotalSeconds;
            int nextStart = start + count;
            next = nextStart < n
                ? Task.Run(() => DecodeBatch(paths, nextStart, Math.Min(_batchSize, n - nextStart), keepCrops))
                : null;

            FeatureBatch batch;
            try
            {
                batch = Compute(decoded, start, size);
            }
            catch
            {
                // Do not leave a decode task running (and its exception unobserved) behind an error.
                try { next?.Wait(); } catch (AggregateException) { }
                throw;
            }
            yield return batch;
        }
    }

    FeatureBatch Compute(Decoded decoded, int start, int size)
    {
        long t0 = Stopwatch.GetTimestamp();
        DeviceTensor[] maps;
        using (var x = _backend.Upload(decoded.Input, decoded.Count, 3, size, size))
            maps = _net.Forward(x, "layer2", "layer3");
        long t1 = Stopwatch.GetTimestamp();
        try
        {
            int gh = maps[0][2], gw = maps[0][3];
            using var f = _backend.AggregatePatchFeatures(maps[0], maps[1], _aggregation);
            int dim = f[1];
            var host = GC.AllocateUninitializedArray<float>(checked((int)f.Length)); // every element is downloaded
            _backend.Download(f, host);
            Times.Backbone += Stopwatch.GetElapsedTime(t0, t1).TotalSeconds;
            Times.Aggregation += Stopwatch.GetElapsedTime(t1).TotalSeconds;
            return new FeatureBatch(start, decoded.Count, host, gh, gw, dim, decoded.Crops) { Errors = decoded.Errors };
        }
        finally
        {
            foreach (var m in maps) m.Dispose();
        }
    }
}
