using System.Globalization;
using System.Text.Json;
using PatchCore.Tensors;
using PatchCore.Weights;

namespace PatchCore.FineTuning;

/// <summary>Loss and held-out accuracy of one epoch. Epoch 0 (when there are held-out images): the held-out values
/// before training, with TrainLoss NaN and LearningRate 0.</summary>
public sealed record EpochRecord(int Epoch, double TrainLoss, double HeldOutLoss, double HeldOutAccuracy, double LearningRate);

/// <summary>
/// The state a fine-tuning run resumes from, written atomically after every epoch (a safetensors file through
/// IO/AtomicFile): every parameter and buffer ("value/&lt;name&gt;"), the optimiser state ("sgd.momentum/…",
/// "adamw.m/…", "adamw.v/…"), the epochs done, the optimiser step count, the history, the config and the base
/// weights' hash. The RNG state is the pair (seed, next epoch): each epoch's generator is a fresh
/// <see cref="Random"/> seeded from both, so the epochs done determine it exactly.
/// </summary>
public sealed class FineTuneCheckpoint
{
    public required int EpochsDone { get; init; }
    public required int Step { get; init; }
    public required string ConfigJson { get; init; }
    public required string BaseHash { get; init; }
    public required List<EpochRecord> History { get; init; }
    public required Dictionary<string, Tensor> Tensors { get; init; }

    /// <summary>History as JSON; NaN (no held-out images) written as "NaN".</summary>
    public static readonly JsonSerializerOptions HistoryJson = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public void Save(string path)
    {
        var meta = new Dictionary<string, string>
        {
            ["format"] = "pcnative-finetune-checkpoint-1",
            ["epochs_done"] = EpochsDone.ToString(CultureInfo.InvariantCulture),
            ["step"] = Step.ToString(CultureInfo.InvariantCulture),
            ["config"] = ConfigJson,
            ["base_sha256"] = BaseHash,
            ["history"] = JsonSerializer.Serialize(History, HistoryJson),
            ["rng"] = $"per-epoch System.Random(seed, epoch); next epoch {EpochsDone}",
        };
        Safetensors.Write(path, Tensors, meta);
    }

    public static FineTuneCheckpoint Load(string path)
    {
        var (tensors, meta) = Safetensors.Read(path);
        string Get(string k) => meta.TryGetValue(k, out var v) ? v : throw new InvalidDataException($"{path}: checkpoint lacks '{k}'");
        if (Get("format") != "pcnative-finetune-checkpoint-1") throw new InvalidDataException($"{path}: not a pcnative fine-tuning checkpoint");
        try
        {
            return new FineTuneCheckpoint
            {
                EpochsDone = int.Parse(Get("epochs_done"), CultureInfo.InvariantCulture),
                Step = int.Parse(Get("step"), CultureInfo.InvariantCulture),
                ConfigJson = Get("config"),
                BaseHash = Get("base_sha256"),
                History = JsonSerializer.Deserialize<List<EpochRecord>>(Get("history"), HistoryJson) ?? [],
                Tensors = tensors,
            };
        }
        catch (Exception e) when (e is FormatException or JsonException or OverflowException)
        {
            throw new InvalidDataException($"{path}: checkpoint metadata unreadable: {e.Message}");
        }
    }
}
