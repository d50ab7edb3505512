namespace PatchCore.ReportDocument.Inputs;

/// <summary>One test image's row of scores.csv.</summary>
public sealed record ScoreRow(string Path, string DefectType, int Truth, double Score, int? Label);

/// <summary>A curve as two columns (x, y), e.g. ROC (fpr, tpr), PR (recall, precision), PRO (fpr, pro).</summary>
public sealed record Curve(double[] X, double[] Y);

/// <summary>
/// The curves of one run: from curves.json when the run wrote it, otherwise the image ROC and PR computed from
/// scores.csv (<see cref="FromScores"/> says which, so the caption can tell the reader).
/// </summary>
public sealed record RunCurves(Curve? ImageRoc, Curve? ImagePr, Curve? PixelRoc, Curve? PixelPr, Curve? Pro, bool FromScores)
{
    public static readonly RunCurves None = new(null, null, null, null, null, true);
}

/// <summary>One epoch of a fine-tuning run's history (finetune.json of a sweep run): losses as computed, the held-out
/// accuracy as a fraction (null when the run held no images out). Epoch 0 is the held-out state before training
/// (no training loss: null).</summary>
public sealed record FineTuneEpoch(int Epoch, double? TrainLoss, double? HeldOutLoss, double? HeldOutAccuracy);

/// <summary>The metrics of one defect type of a run (results.json metrics.per_defect_type).</summary>
public sealed record DefectTypeMetrics(string Type, int N, double? ImageAuroc, double? PixelAuroc, double? Aupro);

/// <summary>
/// Everything the report reads from one run folder. Only results.json is required; every other file is optional
/// (older runs have no curves.json or params.json), and what is missing is simply absent here.
/// </summary>
public sealed record RunData(
    string Folder,
    string Id,
    string Category,
    string Backend,
    IReadOnlyDictionary<string, double> Metrics,
    IReadOnlyList<DefectTypeMetrics> PerDefectType,
    IReadOnlyList<KeyValuePair<string, double>> Timings,
    double? ImageThreshold,
    string ConfigJson,
    IReadOnlyDictionary<string, string> Params,
    IReadOnlyList<ScoreRow> Scores,
    RunCurves Curves,
    int? NTrain,
    int? NTest,
    int? BankSize,
    IReadOnlyList<FineTuneEpoch>? FineTuning = null)
{
    /// <summary>A metric as a fraction, or null when the run could not compute it.</summary>
    public double? Metric(string name) => Metrics.TryGetValue(name, out double v) ? v : null;

    /// <summary>A stage time in seconds, or null.</summary>
    public double? Timing(string stage)
    {
        foreach (var kv in Timings) if (kv.Key == stage) return kv.Value;
        return null;
    }
}
