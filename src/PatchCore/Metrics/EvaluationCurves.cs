namespace PatchCore.Metrics;

/// <summary>The curve points of a test set (curves.json): image ROC and precision–recall; pixel ROC, PR and the
/// PRO curve where masks exist (else null).</summary>
public sealed record EvaluationCurves(RocCurve ImageRoc, PrCurve ImagePr)
{
    public RocCurve? PixelRoc { get; init; }
    public PrCurve? PixelPr { get; init; }
    public ProCurve? Pro { get; init; }
}

/// <summary>Everything <see cref="Evaluation.ComputeReport"/> finds: the numbers, the curves (null when the
/// test set has one class only) and the per-defect-type metrics.</summary>
public sealed record EvaluationReport(EvaluationMetrics Metrics, EvaluationCurves? Curves,
    SortedDictionary<string, DefectTypeAuroc> PerDefectType);
