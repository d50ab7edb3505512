using PatchCore.Tensors;

namespace PatchCore.Metrics;

/// <summary>
/// Every pixel of a test set's anomaly maps sorted once (a linear-time radix sort that keeps each pixel's index,
/// <see cref="RadixSort.SortedWithIndex"/>), with the ground-truth regions labelled once; then each statistic is
/// one walk down the sorted pixels: pixel AUROC and AUPRO of any subset of the images (a defect type and the good
/// images), and the ROC, precision–recall and PRO curve points of all of them. A walk costs a fraction of a sort,
/// so the per-defect-type pixel metrics cost little next to the overall ones.
///
/// AUROC here is the averaged-rank value of <see cref="Auroc"/>, bit for bit: both add half-integers (exact in
/// a double below 2^52) and divide by the same product. AUPRO follows <see cref="Aupro"/>'s definition; within a
/// run of equal scores its sum of region fractions may be added in another order (differences ~1e-16).
/// Memory: 12 bytes per pixel (sorted value, region id, image), 8 more while sorting.
/// </summary>
public sealed class PixelSweep
{
    readonly uint[] _keys;    // ascending Ordered(value) of every pixel
    readonly int[] _region;   // in sorted order: 0 normal, r ≥ 1 ground-truth component
    readonly int[] _image;    // in sorted order: the pixel's image
    readonly int[] _sizes;
    readonly bool[] _masks;
    readonly int _plane, _images;
    readonly long[] _positives; // per image: ground-truth pixels
    readonly int[] _regionImage; // per region: its image (regions never cross images)

    public PixelSweep(ReadOnlySpan<float> maps, bool[] masks, int images, int height, int width)
    {
        long pixels = (long)images * height * width;
        if (maps.Length != pixels || masks.Length != pixels)
            throw new ArgumentException($"pixel metrics need {images}x{height}x{width} scores and mask pixels, got {maps.Length} and {masks.Length}");
        foreach (float v in maps) if (float.IsNaN(v)) throw new ArgumentException("an anomaly-map score is NaN");
        var sorted = RadixSort.SortedWithIndex(maps);
        var region = Aupro.LabelRegions(masks, images, height, width, out _sizes);
        _masks = masks;
        _plane = height * width;
        _images = images;
        // Per-image counts once, so a subset's totals need no pass over its pixels.
        _positives = new long[images];
        _regionImage = new int[_sizes.Length];
        for (int img = 0; img < images; img++)
            for (long p = (long)img * _plane, end = p + _plane; p < end; p++)
                if (region[p] != 0) { _positives[img]++; _regionImage[region[p]] = img; }
        // Gathered once into sorted order, so every walk reads three arrays front to back instead of jumping.
        _keys = GC.AllocateUninitializedArray<uint>(sorted.Length);
        _region = GC.AllocateUninitializedArray<int>(sorted.Length);
        _image = GC.AllocateUninitializedArray<int>(sorted.Length);
        for (int i = 0; i < sorted.Length; i++)
        {
            uint idx = (uint)sorted[i];
            _keys[i] = (uint)(sorted[i] >> 32);
            _region[i] = region[idx];
            _image[i] = (int)(idx / (uint)_plane);
        }
    }

    /// <summary>Pixel AUROC and AUPRO over the images with <paramref name="include"/>[image] true (all when null);
    /// null where the subset lacks anomalous or normal pixels.</summary>
    public (double? PixelAuroc, double? Aupro) Metrics(bool[]? include = null, double fprLimit = 0.3)
    {
        if (include != null && include.Length != _images) throw new ArgumentException($"{include.Length} flags for {_images} images");
        if (!(fprLimit > 0 && fprLimit <= 1)) throw new ArgumentException($"FPR limit {fprLimit} outside (0, 1]");
        long positives = 0, negatives = 0;
        int regions = 0;
        for (int img = 0; img < _images; img++)
        {
            if (include != null && !include[img]) continue;
            positives += _positives[img];
            negatives += _plane - _positives[img];
        }
        for (int r = 1; r < _sizes.Length; r++)
            if (include == null || include[_regionImage[r]]) regions++;
        if (positives == 0 || negatives == 0) return (null, null);

        // From the highest score down; a run of equal scores is one step.
        double wins = 0, area = 0, prevFpr = 0, prevPro = 0, pro = 0, aupro = double.NaN;
        long negSeen = 0;
        for (int i = _keys.Length - 1; i >= 0;)
        {
            uint key = _keys[i];
            long pos = 0, neg = 0;
            for (; i >= 0 && _keys[i] == key; i--)
            {
                if (include != null && !include[_image[i]]) continue;
                int r = _region[i];
                if (r == 0) neg++; else { pos++; pro += 1.0 / _sizes[r]; }
            }
            if (pos == 0 && neg == 0) continue;
            // Positives of this run beat the negatives below it and tie the ones in it (counted 1/2).
            wins += pos * (double)(negatives - negSeen - neg) + 0.5 * pos * neg;
            negSeen += neg;
            if (double.IsNaN(aupro))
            {
                double fpr = (double)negSeen / negatives, p = Math.Min(1.0, pro / regions);
                if (fpr >= fprLimit)
                {
                    double t = fpr > prevFpr ? (fprLimit - prevFpr) / (fpr - prevFpr) : 0;
                    area += (fprLimit - prevFpr) * (prevPro + prevPro + t * (p - prevPro)) / 2;
                    aupro = area / fprLimit;
                }
                else
                {
                    area += (fpr - prevFpr) * (prevPro + p) / 2;
                    prevFpr = fpr; prevPro = p;
                }
            }
        }
        return (wins / ((double)positives * negatives), aupro);
    }

    /// <summary>ROC, precision–recall and PRO points of all images, each thinned to at most
    /// <paramref name="maxPoints"/> evenly spaced points with both ends kept (two walks: one counts the distinct
    /// scores, one emits the kept points). Null when the masks lack anomalous or normal pixels.</summary>
    public (RocCurve Roc, PrCurve Pr, ProCurve Pro)? Curves(int maxPoints = Curve.MaxWrittenPoints, double fprLimit = 0.3)
    {
        long positives = 0;
        foreach (bool m in _masks) if (m) positives++;
        long negatives = _masks.LongLength - positives;
        int regions = _sizes.Length - 1;
        if (positives == 0 || negatives == 0) return null;

        long groups = 0;
        for (int i = _keys.Length - 1; i >= 0; groups++)
        {
            uint key = _keys[i];
            while (i >= 0 && _keys[i] == key) i--;
        }
        // Point 0 is the start (nothing anomalous), point g ≥ 1 follows score run g.
        long points = groups + 1;
        int kept = (int)Math.Min(points, maxPoints);
        var fpr = new double[kept]; var tpr = new double[kept]; var prec = new double[kept]; var th = new float[kept];
        float highest = RadixSort.FromOrdered(_keys[^1]);
        fpr[0] = 0; tpr[0] = 0; prec[0] = 1; th[0] = Curve.Above(highest);
        int next = 1;
        long NextWanted() => next >= kept ? long.MaxValue : (long)Math.Round((double)next * (points - 1) / (kept - 1));
        long wanted = NextWanted();

        var proFpr = new List<double> { 0 }; var proVal = new List<double> { 0 };
        bool proDone = false;
        long tp = 0, fp = 0, g = 0;
        double pro = 0;
        for (int i = _keys.Length - 1; i >= 0;)
        {
            uint key = _keys[i];
            for (; i >= 0 && _keys[i] == key; i--)
            {
                int r = _region[i];
                if (r == 0) fp++; else { tp++; pro += 1.0 / _sizes[r]; }
            }
            g++;
            if (g == wanted)
            {
                fpr[next] = (double)fp / negatives; tpr[next] = (double)tp / positives;
                prec[next] = (double)tp / (tp + fp); th[next] = RadixSort.FromOrdered(key);
                next++;
                wanted = NextWanted();
            }
            if (!proDone)
            {
                double f = (double)fp / negatives, p = Math.Min(1.0, pro / regions);
                if (f >= fprLimit)
                {
                    double prevF = proFpr[^1], prevP = proVal[^1];
                    double t = f > prevF ? (fprLimit - prevF) / (f - prevF) : 0;
                    proFpr.Add(fprLimit); proVal.Add(prevP + t * (p - prevP));
                    proDone = true;
                }
                else { proFpr.Add(f); proVal.Add(p); }
            }
        }
        var roc = new RocCurve(fpr, tpr, th);
        var pr = new PrCurve((double[])tpr.Clone(), prec, (float[])th.Clone());
        var proCurve = new ProCurve(proFpr.ToArray(), proVal.ToArray(), fprLimit).Thin(maxPoints);
        return (roc, pr, proCurve);
    }
}
