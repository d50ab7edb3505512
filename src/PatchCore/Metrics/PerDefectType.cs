namespace PatchCore.Metrics;

/// <summary>Image AUROC of one defect type against the good images, and how many images of that type there are;
/// pixel AUROC and AUPRO of the type's images and the good images where masks exist (else null).</summary>
public sealed record DefectTypeAuroc(double ImageAuroc, int N)
{
    public double? PixelAuroc { get; init; }
    public double? Aupro { get; init; }
}

/// <summary>
/// Image AUROC per defect type: each type's images against all good images (the others left out), so a type the
/// model misses shows up even when the overall AUROC is high. Types in ordinal order; none without good images.
/// </summary>
public static class PerDefectType
{
    public const string Good = "good";

    /// <param name="scores">image scores, aligned with <paramref name="types"/> (the test images' defect types,
    /// <see cref="Good"/> for normal ones).</param>
    public static SortedDictionary<string, DefectTypeAuroc> Compute(ReadOnlySpan<float> scores, IReadOnlyList<string> types)
    {
        if (scores.Length != types.Count) throw new ArgumentException($"{scores.Length} scores but {types.Count} defect types");
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        int good = 0;
        for (int i = 0; i < types.Count; i++)
        {
            if (types[i] == Good) { good++; continue; }
            counts[types[i]] = counts.GetValueOrDefault(types[i]) + 1;
        }
        var result = new SortedDictionary<string, DefectTypeAuroc>(StringComparer.Ordinal);
        if (good == 0) return result;
        foreach (var (type, n) in counts)
        {
            var subset = new float[good + n];
            var labels = new bool[good + n];
            int j = 0;
            for (int i = 0; i < types.Count; i++)
            {
                bool isType = types[i] == type;
                if (!isType && types[i] != Good) continue;
                subset[j] = scores[i];
                labels[j++] = isType;
            }
            result[type] = new DefectTypeAuroc(Auroc.Compute(subset, labels), n);
        }
        return result;
    }

    /// <summary>Adds each type's pixel AUROC and AUPRO (its images and all good images) from one sorted sweep of
    /// the pixels; a type whose images have no anomalous mask pixels keeps nulls.</summary>
    public static SortedDictionary<string, DefectTypeAuroc> WithPixelMetrics(SortedDictionary<string, DefectTypeAuroc> perType,
        PixelSweep sweep, IReadOnlyList<string> types)
    {
        var result = new SortedDictionary<string, DefectTypeAuroc>(StringComparer.Ordinal);
        var include = new bool[types.Count];
        foreach (var (type, a) in perType)
        {
            for (int i = 0; i < types.Count; i++) include[i] = types[i] == type || types[i] == Good;
            var (pixel, aupro) = sweep.Metrics(include);
            result[type] = a with { PixelAuroc = pixel, Aupro = aupro };
        }
        return result;
    }
}
