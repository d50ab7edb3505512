using System.Text.Json;
using System.Text.Json.Serialization;
using PatchCore.Backends;
using PatchCore.Coreset;
using PatchCore.Data;
using PatchCore.IO;

namespace PatchCore.Pipeline;

/// <summary>
/// Every hyperparameter of a PatchCore run. Defaults are the official implementation's (ALGORITHM.md):
/// resize 256 / crop 224, layer2+layer3, official aggregation to 1024 dims, 10% approximate greedy coreset
/// with a 128-d projection and 10 start points, k = 1, squared L2 scores, no reweighting, blur sigma 4.
/// Stored as snake_case JSON; command-line flags override a loaded file.
/// </summary>
public sealed record PatchCoreConfig
{
    /// <summary>Backbone weights (pcnative safetensors).</summary>
    public string Weights { get; init; } = DefaultWeights;
    public string[] Layers { get; init; } = ["layer2", "layer3"];
    public int Resize { get; init; } = 256;
    public int Crop { get; init; } = 224;
    /// <summary>anomalib-style: both sides to Resize instead of the shorter side.</summary>
    public bool SquareResize { get; init; }
    /// <summary>"official" or "anomalib" (see <see cref="AggregationMode"/>).</summary>
    public string Aggregation { get; init; } = "official";
    public int PatchSize { get; init; } = 3;
    public int PretrainDim { get; init; } = 1024;
    public int TargetDim { get; init; } = 1024;
    /// <summary>Fraction of the training patches kept in the memory bank (1 keeps them all, no coreset).</summary>
    public double Coreset { get; init; } = 0.1;
    public int ProjectionDim { get; init; } = 128;
    public int StartPoints { get; init; } = 10;
    /// <summary>Coreset projection matrix: "gaussian" (ALGORITHM.md) or "uniform" (the official code's untrained
    /// torch.nn.Linear); see <see cref="CoresetProjection"/>.</summary>
    public string Projection { get; init; } = "gaussian";
    /// <summary>Nearest neighbours averaged into a patch score.</summary>
    public int K { get; init; } = 1;
    /// <summary>"squared" (official, faiss IndexFlatL2) or "l2" (anomalib).</summary>
    public string ScoreDistance { get; init; } = "squared";
    /// <summary>Paper eq. 7 image-score reweighting (not in the official code).</summary>
    public bool Reweight { get; init; }
    /// <summary>b of eq. 7: neighbours of the nearest bank feature used by the reweighting.</summary>
    public int ReweightB { get; init; } = 9;
    public int Seed { get; init; }
    /// <summary>CPU threads (0 = all cores). Does not change results.</summary>
    public int Threads { get; init; }
    /// <summary>Images per backbone batch. Does not change results.</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>Gaussian blur of the anomaly maps, in input pixels.</summary>
    public float Sigma { get; init; } = 4f;
    /// <summary>fit: share of train/good held out of the memory bank to calibrate the decision thresholds on.
    /// 0 (the default) holds none out: the bank is all of train/good, as in run, and the thresholds come from
    /// leave-one-out scores (each training image against the bank without its own rows). run ignores it.</summary>
    public double Calibration { get; init; }
    /// <summary>Wanted share of nominal images (and pixels) called anomalous at the calibrated thresholds.</summary>
    public double FalseAlarmRate { get; init; } = 0.01;
    /// <summary>Training images scored leave-one-out against the bank to calibrate (evenly spaced over the sorted
    /// list; 0 = no calibration). Never changes the bank. Null = the command's default: run
    /// <see cref="RunCalibrationImages"/> (each costs what a test image's scoring costs), fit all of them (the
    /// conformal threshold needs n ≥ 1/α − 1 images to promise α).</summary>
    public int? CalibrationImages { get; init; }

    /// <summary>run's leave-one-out calibration images when calibration_images is not set.</summary>
    public const int RunCalibrationImages = 16;

    public const string DefaultWeights = "weights/resnet18-cntk.safetensors";

    [JsonIgnore] public ResizeSpec ResizeSpec => new(Resize, SquareResize ? Resize : Crop, SquareResize);
    [JsonIgnore] public AggregationSpec AggregationSpec => new(AggregationModeValue, PatchSize, PretrainDim, TargetDim);
    [JsonIgnore] public bool SquaredDistance => ScoreDistance == "squared";

    [JsonIgnore]
    public AggregationMode AggregationModeValue => Aggregation.ToLowerInvariant() switch
    {
        "official" => AggregationMode.Official,
        "anomalib" => AggregationMode.Anomalib,
        _ => throw new ArgumentException($"config: unknown aggregation '{Aggregation}' (official, anomalib)"),
    };

    [JsonIgnore]
    public CoresetProjection ProjectionValue => Projection.ToLowerInvariant() switch
    {
        "gaussian" => CoresetProjection.Gaussian,
        "uniform" => CoresetProjection.Uniform,
        _ => throw new ArgumentException($"config: unknown projection '{Projection}' (gaussian, uniform)"),
    };

    // Limits of every numeric setting. Each is far above any sensible value and low enough that nothing
    // downstream can overflow a 32-bit size or ask for an absurd allocation; a bad value is refused by
    // Validate before any image is read, so a typo costs nothing.
    /// <summary>Resize side: 4096 px already makes layer1 maps of 1024² x 64 channels (256 MB per image).</summary>
    public const int MaxResize = 4096;
    /// <summary>Smallest resize/crop: the backbone halves the image 4 times before layer3.</summary>
    public const int MinSize = 8;
    /// <summary>Patch neighbourhood: the official code uses 3; 15 already averages over most of layer3's 14x14 grid.</summary>
    public const int MaxPatchSize = 15;
    /// <summary>Feature dims (pretrain, target, projection): the official ones are 1024 / 128; 65536 floats per
    /// patch is 256 KB per row, a bank of a few thousand rows is then GBs.</summary>
    public const int MaxDim = 65536;
    /// <summary>Coreset start points: the official code uses 10; each is one row of the bank.</summary>
    public const int MaxStartPoints = 10000;
    /// <summary>Neighbours k and eq. 7's b: the backends' k-NN keeps at most <see cref="OpContracts.MaxNeighbours"/>
    /// (32) neighbours per query, checked here so a too-large k fails before any compute. k is also capped to the bank size after fit (with a warning).</summary>
    public const int MaxNeighbours = OpContracts.MaxNeighbours;
    /// <summary>Blur sigma in input pixels: the kernel spans 4 sigma each side, so 64 already blurs over a
    /// whole 224 crop (and larger kernels make the blur cost explode).</summary>
    public const float MaxSigma = 64f;
    /// <summary>Images per backbone batch: a batch holds every image's layer1 activations at once.</summary>
    public const int MaxBatchSize = 1024;
    /// <summary>Threads: more than the cores is capped (with a warning) by <see cref="CapThreads"/>; a value
    /// beyond this is a typo, refused.</summary>
    public const int MaxThreads = 65536;

    /// <summary>Throws one line naming the bad value and its allowed range.</summary>
    public PatchCoreConfig Validate()
    {
        // A JSON file can say "key": null for any of these; refuse it by name instead of failing on it later.
        if (Weights is null) throw new ArgumentException("config: weights must not be null");
        if (Layers is null || Array.IndexOf(Layers, null) >= 0) throw new ArgumentException("config: layers must be a list of layer names");
        if (Aggregation is null) throw new ArgumentException("config: aggregation must not be null (official, anomalib)");
        if (Projection is null) throw new ArgumentException("config: projection must not be null (gaussian, uniform)");
        if (ScoreDistance is null) throw new ArgumentException("config: score_distance must not be null (squared, l2)");
        _ = AggregationModeValue;
        _ = ProjectionValue;
        if (Layers is null || Layers.Length != 2 || Layers[0] != "layer2" || Layers[1] != "layer3")
            throw new ArgumentException($"config: layers must be [layer2, layer3] (got [{string.Join(", ", Layers ?? [])}])");
        if (string.IsNullOrWhiteSpace(Weights)) throw new ArgumentException("config: weights must name a file");
        if (Resize < MinSize || Resize > MaxResize) throw new ArgumentException($"config: resize {Resize} must be between {MinSize} and {MaxResize}");
        if (!SquareResize && (Crop < MinSize || Crop > Resize)) throw new ArgumentException($"config: crop {Crop} must be between {MinSize} and resize {Resize}");
        if (PatchSize < 1 || PatchSize % 2 == 0 || PatchSize > MaxPatchSize) throw new ArgumentException($"config: patch_size {PatchSize} must be odd, between 1 and {MaxPatchSize}");
        if (PretrainDim < 1 || PretrainDim > MaxDim) throw new ArgumentException($"config: pretrain_dim {PretrainDim} must be between 1 and {MaxDim}");
        if (TargetDim < 1 || TargetDim > MaxDim) throw new ArgumentException($"config: target_dim {TargetDim} must be between 1 and {MaxDim}");
        if (!(Coreset > 0 && Coreset <= 1)) throw new ArgumentException($"config: coreset {Coreset} must be in (0, 1]");
        if (ProjectionDim < 1 || ProjectionDim > MaxDim) throw new ArgumentException($"config: projection_dim {ProjectionDim} must be between 1 and {MaxDim}");
        if (StartPoints < 1 || StartPoints > MaxStartPoints) throw new ArgumentException($"config: start_points {StartPoints} must be between 1 and {MaxStartPoints}");
        if (K < 1 || K > MaxNeighbours) throw new ArgumentException($"config: k {K} must be between 1 and {MaxNeighbours}");
        if (ScoreDistance is not ("squared" or "l2")) throw new ArgumentException($"config: score_distance '{ScoreDistance}' (squared, l2)");
        if (ReweightB < 1 || ReweightB > MaxNeighbours) throw new ArgumentException($"config: reweight_b {ReweightB} must be between 1 and {MaxNeighbours}");
        if (Threads < 0 || Threads > MaxThreads) throw new ArgumentException($"config: threads {Threads} must be between 0 (all cores) and {MaxThreads}");
        if (BatchSize < 1 || BatchSize > MaxBatchSize) throw new ArgumentException($"config: batch_size {BatchSize} must be between 1 and {MaxBatchSize}");
        if (!(Sigma >= 0 && Sigma <= MaxSigma)) throw new ArgumentException($"config: sigma {Sigma} must be between 0 and {MaxSigma}");
        if (!(Calibration >= 0 && Calibration < 1)) throw new ArgumentException($"config: calibration {Calibration} must be in [0, 1) (share of train/good held out)");
        if (!(FalseAlarmRate >= 0 && FalseAlarmRate < 1)) throw new ArgumentException($"config: false_alarm_rate {FalseAlarmRate} must be in [0, 1)");
        if (CalibrationImages is < 0) throw new ArgumentException($"config: calibration_images {CalibrationImages} must be >= 0");
        return this;
    }

    /// <summary>Threads above the machine's cores only add contention: capped to the cores, with a warning
    /// (the effective value is what the run records).</summary>
    public PatchCoreConfig CapThreads(Action<string>? warn)
    {
        int cores = Environment.ProcessorCount;
        if (Threads <= cores) return this;
        warn?.Invoke($"warning: threads {Threads} is more than the {cores} cores; using {cores}");
        return this with { Threads = cores };
    }

    /// <summary>k (and eq. 7's b) above the bank's rows cannot be met: the scorer uses the whole bank. The
    /// returned config says so (what results.json records), with a warning.</summary>
    public PatchCoreConfig CapToBank(int bankRows, Action<string>? warn)
    {
        var c = this;
        if (K > bankRows)
        {
            warn?.Invoke($"warning: k {K} is more than the {bankRows} rows of the memory bank; using k = {bankRows}");
            c = c with { K = bankRows };
        }
        if (Reweight && ReweightB > bankRows)
        {
            warn?.Invoke($"warning: reweight_b {ReweightB} is more than the {bankRows} rows of the memory bank; using {bankRows}");
            c = c with { ReweightB = bankRows };
        }
        return c;
    }

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static PatchCoreConfig FromJson(string json, string source = "config")
    {
        try
        {
            return JsonSerializer.Deserialize<PatchCoreConfig>(json, Json) ?? throw new InvalidDataException($"{source}: empty config");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: {IO.ErrorText.OneLine(e.Message, 300)}"); // quotes the file's text
        }
    }

    public static PatchCoreConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"config file not found: {path}");
        return FromJson(File.ReadAllText(path), path).Validate();
    }

    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson() + "\n");
}
