namespace PatchCore.Metrics;

/// <summary>
/// Area under the per-region-overlap curve up to a false-positive rate of 0.3, normalised by 0.3 — the MVTec AD
/// definition (Bergmann et al.), which anomalib's AUPRO also follows.
///
/// Regions: connected components of each ground-truth mask, 8-connectivity (scipy.ndimage.label with a 3x3
/// structure). Threshold sweep: every distinct anomaly score (exact, no binning) from high to low; at each,
/// PRO = mean over all regions of the fraction of the region's pixels scoring ≥ the threshold, FPR = fraction of
/// normal pixels (all images) scoring ≥ it. The curve starts at (0, 0); the area is the trapezoid rule over the
/// points with FPR ≤ 0.3 plus the segment to FPR = 0.3 exactly, its PRO linearly interpolated.
/// Memory: a sorted float copy of the scores plus an int region id per pixel (8 bytes a pixel).
/// </summary>
public static class Aupro
{
    public static double Compute(ReadOnlySpan<float> maps, ReadOnlySpan<bool> masks, int images, int height, int width,
        double fprLimit = 0.3)
    {
        long pixels = (long)images * height * width;
        if (maps.Length != pixels || masks.Length != pixels)
            throw new ArgumentException($"AUPRO needs {images}x{height}x{width} scores and mask pixels, got {maps.Length} and {masks.Length}");
        if (!(fprLimit > 0 && fprLimit <= 1)) throw new ArgumentException($"FPR limit {fprLimit} outside (0, 1]");

        var region = LabelRegions(masks, images, height, width, out var sizes);
        int regions = sizes.Length - 1;
        long normal = 0;
        foreach (int r in region) if (r == 0) normal++;
        if (regions == 0) throw new ArgumentException("AUPRO needs at least one anomalous ground-truth pixel");
        if (normal == 0) throw new ArgumentException("AUPRO needs normal pixels");

        var keys = maps.ToArray();
        foreach (float v in keys) if (float.IsNaN(v)) throw new ArgumentException("an anomaly-map score is NaN");
        Array.Sort(keys, region); // ascending; walked from the end (high scores first)

        double area = 0, prevFpr = 0, prevPro = 0, pro = 0;
        long fp = 0;
        for (long i = keys.LongLength - 1; i >= 0;)
        {
            float v = keys[i];
            for (; i >= 0 && keys[i] == v; i--)
            {
                int r = region[i];
                if (r == 0) fp++; else pro += 1.0 / sizes[r];
            }
            double fpr = (double)fp / normal, p = Math.Min(1.0, pro / regions);
            if (fpr >= fprLimit)
            {
                double t = fpr > prevFpr ? (fprLimit - prevFpr) / (fpr - prevFpr) : 0;
                double pAt = prevPro + t * (p - prevPro);
                area += (fprLimit - prevFpr) * (prevPro + pAt) / 2;
                return area / fprLimit;
            }
            area += (fpr - prevFpr) * (prevPro + p) / 2;
            prevFpr = fpr; prevPro = p;
        }
        // All thresholds passed without reaching the limit cannot happen (the lowest one gives FPR 1); kept safe.
        area += (fprLimit - prevFpr) * (prevPro + 1) / 2;
        return area / fprLimit;
    }

    /// <summary>Region id per pixel: 0 = normal, r ≥ 1 = ground-truth component r (8-connected, numbered across all
    /// images in image-major order); <paramref name="sizes"/>[r] = its pixel count (sizes[0] = 0).</summary>
    public static int[] LabelRegions(ReadOnlySpan<bool> masks, int images, int height, int width, out int[] sizes)
    {
        long pixels = (long)images * height * width;
        if (masks.Length != pixels) throw new ArgumentException($"regions need {images}x{height}x{width} mask pixels, got {masks.Length}");
        var region = new int[pixels];
        var found = new List<int> { 0 };
        var stack = new Stack<int>();
        int plane = height * width;
        for (int img = 0; img < images; img++)
        {
            var mask = masks.Slice(img * plane, plane);
            var reg = region.AsSpan(img * plane, plane);
            for (int p = 0; p < plane; p++)
            {
                if (!mask[p] || reg[p] != 0) continue;
                int id = found.Count, size = 0;
                reg[p] = id;
                stack.Push(p);
                while (stack.Count > 0)
                {
                    int q = stack.Pop();
                    size++;
                    int y = q / width, x = q % width;
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++)
                        {
                            int yy = y + dy, xx = x + dx;
                            if (yy < 0 || yy >= height || xx < 0 || xx >= width) continue;
                            int r = yy * width + xx;
                            if (mask[r] && reg[r] == 0) { reg[r] = id; stack.Push(r); }
                        }
                }
                found.Add(size);
            }
        }
        sizes = found.ToArray();
        return region;
    }
}
