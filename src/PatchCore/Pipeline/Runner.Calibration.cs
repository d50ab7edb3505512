using System.Diagnostics;
using PatchCore.Backbone;
using PatchCore.Backends;
using PatchCore.Metrics;
using PatchCore.Scoring;
using PatchCore.Weights;

namespace PatchCore.Pipeline;

/// <summary>Training features kept after <see cref="Runner.Fit(ResNet, WeightFile, IReadOnlyList{string}, out TrainFeatures)"/>:
/// rows [Images · GridH · GridW, Dim], image-major (row r belongs to image r / (GridH·GridW)).</summary>
public sealed record TrainFeatures(float[] All, int Images, int GridH, int GridW, int Dim);

/// <summary>What predict produced: the scored images (in input order, bad ones left out) and the bad ones with
/// their reason.</summary>
public sealed record PredictResult(List<ScoredImage> Images, List<(string Path, string Error)> Errors);

public sealed partial class Runner
{
    /// <summary>
    /// fit for deployment: memory bank plus calibration from nominal images the bank did not see.
    /// <paramref name="calibrationImages"/> given (--calibration-dir): bank from all of train/good, thresholds
    /// from those images. Else config calibration &gt; 0: that share of train/good, chosen by a seeded shuffle, is
    /// held out of the bank and scored. Else (0, the default): bank from all of train/good, leave-one-out on config
    /// calibration_images training images (all of them when not set).
    /// </summary>
    public PatchCoreModel FitCalibrated(ResNet net, WeightFile weights, IReadOnlyList<string> trainImages,
        IReadOnlyList<string>? calibrationImages = null, string? calibrationSource = null)
    {
        if (calibrationImages != null)
        {
            if (calibrationImages.Count == 0) throw new InvalidDataException($"{calibrationSource ?? "calibration folder"}: no images");
            var model = Fit(net, weights, trainImages);
            model.Calibration = CalibrateOnNominal(model, net, weights, calibrationImages, calibrationSource ?? "calibration folder");
            return model;
        }
        if (Config.Calibration > 0)
        {
            var (bank, heldOut) = SplitHeldOut(trainImages, Config.Calibration, Config.Seed);
            Say($"calibration: {heldOut.Count} of {trainImages.Count} train/good images held out of the bank");
            var model = Fit(net, weights, bank);
            model.Calibration = CalibrateOnNominal(model, net, weights, heldOut,
                $"held-out {Config.Calibration:G4} of train/good (seeded shuffle, seed {Config.Seed})");
            return model;
        }
        var m = Fit(net, weights, trainImages, out var features);
        m.Calibration = CalibrateLeaveOneOut(m, features, Config.CalibrationImages ?? trainImages.Count);
        return m;
    }

    /// <summary>
    /// Held-out share of the training list: ⌈share·n⌉ rounded to nearest (at least 1, at most n − 1), picked by a
    /// Fisher–Yates shuffle seeded with <paramref name="seed"/>; both parts keep the list's order.
    /// </summary>
    public static (List<string> Bank, List<string> HeldOut) SplitHeldOut(IReadOnlyList<string> train, double share, int seed)
    {
        int n = train.Count;
        int held = Math.Max(1, (int)Math.Round(share * n, MidpointRounding.AwayFromZero));
        if (held >= n)
            throw new InvalidDataException($"--calibration {share:G4} of {n} training images leaves none for the memory bank; lower it, or use --calibration 0 (leave-one-out) or --calibration-dir");
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        var rng = new Random(seed);
        for (int i = n - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var isHeld = new bool[n];
        for (int i = 0; i < held; i++) isHeld[order[i]] = true;
        var bank = new List<string>(n - held);
        var heldOut = new List<string>(held);
        for (int i = 0; i < n; i++) (isHeld[i] ? heldOut : bank).Add(train[i]);
        return (bank, heldOut);
    }

    /// <summary>Thresholds at the config's false-alarm rate from nominal images scored against the bank.</summary>
    Calibration CalibrateOnNominal(PatchCoreModel model, ResNet net, WeightFile weights, IReadOnlyList<string> images, string source)
    {
        var o = Score(model, net, weights, images, keepCrops: false, label: "calibration");
        long t0 = Stopwatch.GetTimestamp();
        var c = Calibration.FromNominal(o.ImageScores, o.Maps, Config.FalseAlarmRate, source);
        Timings.Calibration += Stopwatch.GetElapsedTime(t0).TotalSeconds;
        Say($"calibration: image threshold {c.Image.Threshold:G6}, pixel threshold {c.Pixel.Threshold:G6} from {images.Count} nominal images ({source})");
        return c;
    }

    /// <summary>Calibration images per k-NN call (16: run's default count is one call).</summary>
    const int LeaveOneOutChunk = 16;

    /// <summary>
    /// Calibration without taking images from the bank: <paramref name="count"/> training images, evenly spaced
    /// over the list, each scored against the bank WITHOUT the rows that came from that image (the coreset's
    /// selected rows tell which), i.e. as an image the bank never saw. Reuses the features of the fit. Null when
    /// count is 0 or there are fewer than 2 training images.
    ///
    /// Fast and exact: one k-NN call per chunk of 16 images against the whole bank with k = the op's maximum (32),
    /// then per patch the first K neighbours that are not the image's own rows. Only when an image has a patch
    /// whose 32 nearest rows leave fewer than K others (or with eq. 7 reweighting, which needs the bank itself)
    /// is it scored against its own copy of the bank without its rows; that copy (and its packing by the k-NN op)
    /// per image cost 4x a test image on transistor, so it is the exception, not the rule.
    /// </summary>
    public Calibration? CalibrateLeaveOneOut(PatchCoreModel model, TrainFeatures f, int count)
    {
        if (count <= 0) return null;
        if (f.Images < 2)
        {
            Say("calibration: leave-one-out needs at least 2 training images; the model stays uncalibrated");
            return null;
        }
        long t0 = Stopwatch.GetTimestamp();
        count = Math.Min(count, f.Images);
        int per = f.GridH * f.GridW, dim = model.Dim, size = Config.ResizeSpec.Crop;
        if (f.All.LongLength != (long)f.Images * per * dim) throw new ArgumentException("training features do not match the model");
        var chosen = new int[count];
        for (int j = 0; j < count; j++) chosen[j] = (int)((long)j * f.Images / count);

        int wantK = Math.Min(Config.K, model.BankRows);
        int k = Math.Min(OpContracts.MaxNeighbours, model.BankRows);
        // Chunks of images, so that calibrating on every training image (fit's default) needs memory for one
        // chunk's queries and neighbours, not a second copy of all the training features.
        int chunk = Math.Min(count, LeaveOneOutChunk);
        var queries = new float[(long)chunk * per * dim];
        var dist = new float[(long)chunk * per * k];
        var idx = new int[(long)chunk * per * k];
        var patch = new float[(long)count * per];
        var image = new float[count];
        var selected = model.SelectedRows;
        var valid = new bool[count];
        using var bar = Bar("calibration (leave-one-out)", count);
        using var bank = _backend.Upload(model.Bank, model.BankRows, dim);
        for (int j0 = 0; j0 < count; j0 += chunk)
        {
            int n = Math.Min(chunk, count - j0);
            for (int c = 0; c < n; c++)
                Array.Copy(f.All, (long)chosen[j0 + c] * per * dim, queries, (long)c * per * dim, (long)per * dim);
            using (var q = _backend.Upload(queries.AsSpan(0, n * per * dim), n * per, dim))
                _backend.NearestNeighbours(q, bank, k, dist.AsSpan(0, n * per * k), idx.AsSpan(0, n * per * k));
            for (int c = 0; c < n; c++)
            {
                int j = j0 + c;
                valid[j] = true;
                bool exact = Config.Reweight; // eq. 7 looks at the bank rows themselves
                long lo = (long)chosen[j] * per, hi = lo + per;
                float best = float.NegativeInfinity;
                for (int p = 0; p < per && !exact; p++)
                {
                    long row = (long)c * per + p;
                    double sum = 0;
                    int taken = 0;
                    for (int t = 0; t < k && taken < wantK; t++)
                    {
                        int r = idx[row * k + t];
                        long source = selected != null ? selected[r] : r;
                        if (source >= lo && source < hi) continue; // the image's own row
                        float v = dist[row * k + t];
                        sum += Config.SquaredDistance ? v : Math.Sqrt(v);
                        taken++;
                    }
                    if (taken < wantK) { exact = true; break; }
                    float score = (float)(sum / wantK);
                    patch[(long)j * per + p] = score;
                    if (score > best) best = score;
                }
                if (exact) valid[j] = ScoreWithoutOwnRows(model, f, chosen[j], queries, c, j, patch, image);
                else image[j] = best;
                bar.Advance();
            }
        }

        int used = 0;
        for (int j = 0; j < count; j++) if (valid[j]) used++;
        if (used == 0) { Say("calibration: no image left to calibrate on; the model stays uncalibrated"); return null; }
        if (used < count)
        {
            // Drop the images that had nothing to compare with (every bank row was theirs).
            int w = 0;
            for (int j = 0; j < count; j++)
            {
                if (!valid[j]) continue;
                image[w] = image[j];
                Array.Copy(patch, (long)j * per, patch, (long)w * per, per);
                w++;
            }
        }
        var scores = new ModelScores(patch[..(used * per)], image[..used], used, f.GridH, f.GridW);
        var maps = model.Maps(_backend, scores, size, size);
        var calibration = Calibration.FromNominal(scores.Image, maps, Config.FalseAlarmRate,
            $"leave-one-out on {used} of {f.Images} train/good images (each scored against the bank without its own rows)");
        double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        Timings.Calibration += seconds;
        Say($"calibration: image threshold {calibration.Image.Threshold:G6}, pixel threshold {calibration.Pixel.Threshold:G6} by leave-one-out on {used} training images ({seconds:F1}s)");
        return calibration;
    }

    /// <summary>The slow exact path for training image <paramref name="imageIndex"/> (query image c of the chunk,
    /// calibration image j): score it against a copy of the bank without its rows; false when no row is left.</summary>
    bool ScoreWithoutOwnRows(PatchCoreModel model, TrainFeatures f, int imageIndex, float[] queries, int c, int j, float[] patch, float[] image)
    {
        int per = f.GridH * f.GridW, dim = model.Dim;
        var bank = BankWithout(model, imageIndex, per, out int rows);
        if (rows == 0) return false; // every bank row came from this image: nothing to compare it with
        using var loo = new PatchCoreModel(Config, bank, rows, dim, f.GridH, f.GridW, model.WeightsIdentity, f.Images - 1);
        var s = loo.Score(_backend, queries[(c * per * dim)..((c + 1) * per * dim)], 1);
        Array.Copy(s.Patch, 0, patch, (long)j * per, per);
        image[j] = s.Image[0];
        return true;
    }

    /// <summary>A copy of the bank without the rows taken from training image <paramref name="image"/>.</summary>
    static float[] BankWithout(PatchCoreModel model, int image, int per, out int rows)
    {
        int dim = model.Dim;
        long lo = (long)image * per, hi = lo + per; // that image's training-feature rows
        var selected = model.SelectedRows;
        rows = 0;
        for (int r = 0; r < model.BankRows; r++)
        {
            long source = selected != null ? selected[r] : r;
            if (source < lo || source >= hi) rows++;
        }
        var bank = GC.AllocateUninitializedArray<float>(rows * dim); // every kept row is copied in
        int k = 0;
        for (int r = 0; r < model.BankRows; r++)
        {
            long source = selected != null ? selected[r] : r;
            if (source >= lo && source < hi) continue;
            Array.Copy(model.Bank, (long)r * dim, bank, (long)k * dim, dim);
            k++;
        }
        return bank;
    }

    /// <summary>The F1-optimal image and pixel thresholds on a labelled test set, recorded beside the nominal ones
    /// (decisions keep using the nominal thresholds). A threshold whose classes are not both present is left out.</summary>
    public static Calibration WithF1Thresholds(Calibration c, TestOutputs o, bool[] labels, bool[]? masks)
    {
        const string method = "F1-optimal on the labelled test set";
        ScoreThreshold? image = null, pixel = null;
        if (Array.IndexOf(labels, true) >= 0 && Array.IndexOf(labels, false) >= 0)
            image = new ScoreThreshold(F1Max.Compute(o.ImageScores, labels).Threshold, c.Image.NominalMin, method);
        if (masks != null && Array.IndexOf(masks, true) >= 0 && Array.IndexOf(masks, false) >= 0)
            pixel = new ScoreThreshold(PixelF1Max.Compute(o.Maps, masks).Threshold, c.Pixel.NominalMin, method);
        return c with { ImageF1 = image, PixelF1 = pixel };
    }
}
