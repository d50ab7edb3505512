namespace PatchCore.Metrics;

/// <summary>The metrics of one test set as fractions; null where not computable (a metric that needs both
/// classes when one is missing, pixel metrics without masks).</summary>
public sealed record EvaluationMetrics(double? ImageAuroc, double? F1Max, double? PixelAuroc, double? Aupro)
{
    /// <summary>The results.json keys, in the order they are written; absent metrics are left out.</summary>
    public Dictionary<string, double> ToDictionary()
    {
        var m = new Dictionary<string, double>();
        if (ImageAuroc is { } ia) m["image_auroc"] = ia;
        if (F1Max is { } f1) m["f1_max"] = f1;
        if (PixelAuroc is { } pa) m["pixel_auroc"] = pa;
        if (Aupro is { } ap) m["aupro"] = ap;
        return m;
    }
}
