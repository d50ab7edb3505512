using PatchCore.Backends;
using PatchCore.Coreset;
using PatchCore.Scoring;
using PatchCore.Weights;

namespace PatchCore.Pipeline;

/// <summary>Patch scores [images, gridH, gridW] and one score per image.</summary>
public sealed record ModelScores(float[] Patch, float[] Image, int Images, int GridH, int GridW);

/// <summary>
/// The PatchCore model proper, apart from any orchestration: a memory bank of patch features (rows of
/// <see cref="Dim"/> floats) chosen by the approximate greedy coreset, and the scoring against it.
/// Patch score = mean over the k nearest bank rows of the squared (official) or plain L2 distance; image score
/// = max patch score, optionally reweighted by paper eq. 7 (both in <see cref="NearestNeighbourScorer"/>).
/// </summary>
public sealed class PatchCoreModel : IDisposable
{
    public PatchCoreModel(PatchCoreConfig config, float[] bank, int bankRows, int dim, int gridH, int gridW,
        string weightsIdentity, int trainImages)
    {
        if (bankRows < 1 || dim < 1 || (long)bankRows * dim != bank.LongLength)
            throw new ArgumentException($"memory bank of {bank.LongLength} values is not {bankRows} x {dim}");
        Config = config; Bank = bank; BankRows = bankRows; Dim = dim; GridH = gridH; GridW = gridW;
        WeightsIdentity = weightsIdentity; TrainImages = trainImages;
    }

    public PatchCoreConfig Config { get; }
    /// <summary>Memory bank, row-major [BankRows, Dim].</summary>
    public float[] Bank { get; }
    public int BankRows { get; }
    public int Dim { get; }
    /// <summary>Patch grid of one image (layer2's map at the crop size).</summary>
    public int GridH { get; }
    public int GridW { get; }
    /// <summary>SHA-256 of the weights the features came from.</summary>
    public string WeightsIdentity { get; }
    public int TrainImages { get; }
    /// <summary>Decision thresholds and score normalisation (<see cref="Scoring.Calibration"/>); null for a model
    /// that was never calibrated (then no decision can be made).</summary>
    public Calibration? Calibration { get; set; }
    /// <summary>Transient (not saved): after <see cref="Fit"/>, the training-feature row behind each bank row
    /// (row r belongs to training image r / (GridH·GridW)); null when the bank is every feature in order.
    /// Leave-one-out calibration uses it to drop an image's own rows.</summary>
    public int[]? SelectedRows { get; private set; }

    /// <summary>The backbone weights the model carries (cut after layer3, identity = <see cref="WeightsIdentity"/>),
    /// as a format 2 model file embeds them; null for a model that names its weights by hash only.</summary>
    public WeightFile? EmbeddedWeights { get; set; }

    /// <summary>
    /// The weights to extract features with: the file at <paramref name="weightsPath"/> when given (refused unless
    /// its SHA-256 is <see cref="WeightsIdentity"/>), else the embedded ones, else the weight file named in the
    /// config (a format 1 model), which must have that hash too. <paramref name="modelName"/> names the model in errors.
    /// </summary>
    public WeightFile BackboneWeights(string? weightsPath, string modelName)
    {
        if (weightsPath != null)
        {
            var given = WeightFile.Load(weightsPath);
            if (!SameIdentity(given.Identity))
                throw new InvalidDataException($"--weights {weightsPath}: {Short(given.Identity)} is not the weight file {modelName} was fitted with ({Short(WeightsIdentity)}); leave --weights out to use the weights the model embeds");
            return given;
        }
        if (EmbeddedWeights != null) return EmbeddedWeights;
        string path = WeightLocator.Find(Config.Weights);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{modelName} embeds no backbone weights and its weight file {Config.Weights} is not found: pass --weights with the file it was fitted with ({Short(WeightsIdentity)})");
        var named = WeightFile.Load(path);
        if (!SameIdentity(named.Identity))
            throw new InvalidDataException($"{path}: {Short(named.Identity)} is not the weight file {modelName} was fitted with ({Short(WeightsIdentity)}); pass --weights with that file");
        return named;
    }

    bool SameIdentity(string identity) => string.Equals(identity, WeightsIdentity, StringComparison.OrdinalIgnoreCase);

    DeviceTensor? _deviceBank;
    IBackend? _bankBackend;

    /// <summary>
    /// Learn the memory bank from training features [rows, dim] (rows = images * gridH * gridW). With
    /// coreset = 1 the bank is every feature (no sampling).
    /// </summary>
    public static PatchCoreModel Fit(IBackend backend, PatchCoreConfig config, float[] features, int rows, int dim,
        int gridH, int gridW, string weightsIdentity, int trainImages, Action<int, int>? progress = null)
    {
        if ((long)rows * dim != features.LongLength) throw new ArgumentException("training features are not rows x dim");
        if (config.Coreset >= 1.0)
            return new PatchCoreModel(config, features, rows, dim, gridH, gridW, weightsIdentity, trainImages);

        int[] selected;
        using (var x = backend.Upload(features, rows, dim))
            selected = ApproximateGreedyCoreset.Select(backend, x,
                new CoresetOptions(config.Coreset, config.ProjectionDim, config.StartPoints, config.Seed, config.ProjectionValue));
        if (selected.Length == 0)
            throw new InvalidDataException($"coreset {config.Coreset * 100:G4}% of {rows} training patches selects no rows; raise --coreset");
        var bank = new float[(long)selected.Length * dim];
        for (int i = 0; i < selected.Length; i++)
            Array.Copy(features, (long)selected[i] * dim, bank, (long)i * dim, dim);
        return new PatchCoreModel(config, bank, selected.Length, dim, gridH, gridW, weightsIdentity, trainImages) { SelectedRows = selected };
    }

    DeviceTensor DeviceBank(IBackend backend)
    {
        if (_deviceBank != null && ReferenceEquals(_bankBackend, backend)) return _deviceBank;
        _deviceBank?.Dispose();
        _deviceBank = backend.Upload(Bank, BankRows, Dim);
        _bankBackend = backend;
        return _deviceBank;
    }

    /// <summary>Score the features of whole images: [images * GridH * GridW, Dim] (<see cref="NearestNeighbourScorer"/>).</summary>
    public ModelScores Score(IBackend backend, float[] features, int images)
    {
        int per = GridH * GridW;
        long rows = (long)images * per;
        if (rows * Dim != features.LongLength)
            throw new ArgumentException($"features of {features.LongLength} values are not {images} images x {per} patches x {Dim}");
        var options = new ScoringOptions(Math.Min(Config.K, BankRows),
            Config.SquaredDistance ? PatchDistance.SquaredL2 : PatchDistance.L2, Config.Reweight, Config.ReweightB);
        using var q = backend.Upload(features, (int)rows, Dim);
        var s = NearestNeighbourScorer.Score(backend, DeviceBank(backend), q, per, options);
        return new ModelScores(s.Patch, s.Image, images, GridH, GridW);
    }

    /// <summary>Patch-score grids → anomaly maps [images, outH, outW] (bilinear up, Gaussian blur sigma).</summary>
    public float[] Maps(IBackend backend, ModelScores scores, int outH, int outW)
    {
        using var grid = backend.Upload(scores.Patch, scores.Images, scores.GridH, scores.GridW);
        using var maps = backend.AnomalyMaps(grid, outH, outW, Config.Sigma);
        var host = new float[(long)scores.Images * outH * outW];
        backend.Download(maps, host);
        return host;
    }

    /// <summary>
    /// Refuses (one line) features that cannot be compared with this bank: other weights, other feature
    /// size or other patch grid (another resize, crop, aggregation or backbone).
    /// </summary>
    public void CheckCompatible(string weightsIdentity, int dim, int gridH, int gridW, string what = "model")
    {
        if (!string.Equals(weightsIdentity, WeightsIdentity, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{what} was built with weights {Short(WeightsIdentity)}, not with these weights {Short(weightsIdentity)}: use the weight file the model was fitted with");
        if (dim != Dim || gridH != GridH || gridW != GridW)
            throw new InvalidDataException($"{what} expects {Dim}-d features on a {GridH}x{GridW} patch grid, but these settings give {dim}-d on {gridH}x{gridW}");
    }

    static string Short(string sha) => string.IsNullOrEmpty(sha) ? "(unknown)" : "sha256:" + sha[..Math.Min(12, sha.Length)];

    public void Dispose()
    {
        _deviceBank?.Dispose();
        _deviceBank = null;
    }
}
