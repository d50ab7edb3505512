using PatchCore.Data;
using PatchCore.IO;

namespace PatchCore.Metrics;

/// <summary>Evaluation of a scored test set against its ground truth: load the masks the way the images were
/// prepared, then image AUROC and F1-max over image scores, pixel AUROC and AUPRO over the maps.</summary>
public static class Evaluation
{
    /// <summary>Ground truth of the test set, [n * crop * crop], all false for normal images (no mask file).
    /// Each mask gets the images' resize and crop (<see cref="Preprocessing.ToMask"/>).</summary>
    public static bool[] LoadMasks(IReadOnlyList<TestSample> samples, ResizeSpec spec, int threads)
    {
        int plane = spec.Crop * spec.Crop;
        var masks = new bool[(long)samples.Count * plane];
        Workers.For(samples.Count, threads, i =>
        {
            if (samples[i].MaskPath is not { } p) return;
            var decoded = ImageFile.Decode(p);
            // A mask of another size than its image would be resized and cropped differently and misplace the
            // ground truth without a word (MvtecDataset.Open checks this too, for the samples it lists).
            if (ImageHeader.TryRead(samples[i].Path) is { } img && (img.Width, img.Height) != (decoded.Width, decoded.Height))
                throw new InvalidDataException($"{p}: mask is {decoded.Width}x{decoded.Height} but its image {Path.GetFileName(samples[i].Path)} is {img.Width}x{img.Height}; a mask must have its image's size");
            var m = Preprocessing.ToMask(decoded, spec);
            if (m.Length != plane) throw new InvalidDataException($"{p}: mask gives {m.Length} pixels, expected {plane}");
            Array.Copy(m, 0, masks, (long)i * plane, plane);
        });
        return masks;
    }

    /// <summary>Image AUROC and F1-max over image scores; pixel AUROC and AUPRO when masks exist. A metric
    /// that needs both classes is left out (null) when one is missing.</summary>
    /// <param name="maps">anomaly maps [n * mapH * mapW], image-major, aligned with <paramref name="masks"/>.</param>
    public static EvaluationMetrics Compute(float[] imageScores, bool[] labels, float[] maps, bool[]? masks, int mapH, int mapW)
    {
        double? imageAuroc = null, f1 = null, pixelAuroc = null, aupro = null;
        bool anyAnomalous = Array.IndexOf(labels, true) >= 0, anyNormal = Array.IndexOf(labels, false) >= 0;
        if (anyAnomalous && anyNormal)
        {
            imageAuroc = Auroc.Compute(imageScores, labels);
            f1 = F1Max.Compute(imageScores, labels).F1;
        }
        if (masks != null)
        {
            bool anyPos = Array.IndexOf(masks, true) >= 0, anyNeg = Array.IndexOf(masks, false) >= 0;
            if (anyPos && anyNeg)
            {
                pixelAuroc = Auroc.Compute(maps, masks);
                aupro = Aupro.Compute(maps, masks, labels.Length, mapH, mapW);
            }
        }
        return new EvaluationMetrics(imageAuroc, f1, pixelAuroc, aupro);
    }

    /// <summary>
    /// <see cref="Compute"/> plus what a run reports beside the numbers: per-defect-type image AUROC, and pixel
    /// AUROC and AUPRO where masks exist; the ROC, precision–recall and PRO curve points (thinned to
    /// <see cref="Curve.MaxWrittenPoints"/>). The pixels are sorted once (<see cref="PixelSweep"/>): the overall
    /// pixel AUROC (the same number as <see cref="Auroc"/>, bit for bit), the AUPRO (<see cref="Aupro.Compute"/>'s
    /// up to the order of additions within a run of equal scores, ~1e-16), each type's pixel metrics and the pixel
    /// curves are walks over that sort: the metrics stage costs what it did before per-type metrics and curves.
    /// </summary>
    /// <param name="types">each test image's defect type (<see cref="PerDefectType.Good"/> for normal ones).</param>
    public static EvaluationReport ComputeReport(float[] imageScores, bool[] labels, IReadOnlyList<string> types, float[] maps,
        bool[]? masks, int mapH, int mapW)
    {
        double? imageAuroc = null, f1 = null, pixelAuroc = null, aupro = null;
        RocCurve? imageRoc = null; PrCurve? imagePr = null;
        bool anyAnomalous = Array.IndexOf(labels, true) >= 0, anyNormal = Array.IndexOf(labels, false) >= 0;
        if (anyAnomalous && anyNormal)
        {
            imageAuroc = Auroc.Compute(imageScores, labels);
            f1 = F1Max.Compute(imageScores, labels).F1;
            (imageRoc, imagePr) = ThresholdSweep.Compute(imageScores, labels);
            imageRoc = imageRoc.Thin(Curve.MaxWrittenPoints);
            imagePr = imagePr.Thin(Curve.MaxWrittenPoints);
        }
        var perType = PerDefectType.Compute(imageScores, types);
        (RocCurve, PrCurve, ProCurve)? pixelCurves = null;
        if (masks != null)
        {
            bool anyPos = Array.IndexOf(masks, true) >= 0, anyNeg = Array.IndexOf(masks, false) >= 0;
            if (anyPos && anyNeg)
            {
                var sweep = new PixelSweep(maps, masks, labels.Length, mapH, mapW);
                (pixelAuroc, aupro) = sweep.Metrics();
                perType = PerDefectType.WithPixelMetrics(perType, sweep, types);
                pixelCurves = sweep.Curves();
            }
        }
        var metrics = new EvaluationMetrics(imageAuroc, f1, pixelAuroc, aupro);
        var curves = imageRoc == null ? null : new EvaluationCurves(imageRoc, imagePr!)
        {
            PixelRoc = pixelCurves?.Item1, PixelPr = pixelCurves?.Item2, Pro = pixelCurves?.Item3,
        };
        return new EvaluationReport(metrics, curves, perType);
    }
}
