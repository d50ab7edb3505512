using PatchCore.Backbone;
using PatchCore.Backends;

namespace PatchCore.FineTuning;

/// <summary>One preprocessed nominal image: normalised planes [3, Height, Width] as the backbone reads them.</summary>
public sealed record NominalImage(float[] Planes, int Height, int Width, string Path);

/// <summary>
/// The rows one training (or held-out) step feeds the net, made by a task from a few nominal images: Input is
/// [Rows, 3, H, W] in the backbone's normalisation. A task keeps whatever its loss needs (labels, how many rows are
/// views and how many extra negatives) in its own subclass; the trainer only runs Input through the net and hands
/// the batch back to the task.
/// </summary>
public abstract class FineTuneBatch
{
    protected FineTuneBatch(float[] input, int rows, int height, int width)
    {
        if (input.LongLength != (long)rows * 3 * height * width)
            throw new ArgumentException($"batch input has {input.LongLength} values, expected {rows}x3x{height}x{width}");
        Input = input;
        Rows = rows;
        Height = height;
        Width = width;
    }
    public float[] Input { get; }
    public int Rows { get; }
    public int Height { get; }
    public int Width { get; }

    /// <summary>What a task's loss needs to know about the rows besides Input (rotation: the labels; contrastive:
    /// how many pairs and extra negatives), for a step dump (<see cref="FineTuneStep"/>): small tensors and
    /// metadata strings that another implementation reads to compute the same loss.</summary>
    public abstract void Describe(IDictionary<string, PatchCore.Tensors.Tensor> tensors, IDictionary<string, string> metadata);
}

/// <summary>A task's loss on one batch and how many of its predictions were right (rotation: the rotation;
/// contrastive: the positive ranked first); Total 0 when a task has no accuracy.</summary>
public readonly record struct TaskResult(double Loss, int Correct, int Total);

/// <summary>
/// A self-supervised fine-tuning task (issue 13): rotation prediction, SimCLR contrastive, … The trainer
/// (<see cref="FineTuner"/>) owns the backbone, the optimiser, the schedule, the feature penalty, the held-out
/// split and checkpoints; the task owns what is specific to it:
/// <list type="bullet">
/// <item>how a batch is made from nominal images with a seeded RNG (<see cref="MakeBatch"/>: rotations, two
/// augmented views per image plus extra negatives, …) — any number of rows per image;</item>
/// <item>its head parameters (<see cref="Parameters"/>, trained by the trainer's optimiser, saved in checkpoints
/// under their names);</item>
/// <item>the loss on the last trained stage's map [Rows, C, h, w] and its gradient w.r.t. that map
/// (<see cref="Loss"/>; pooling, heads, normalisation and the loss all happen inside, on
/// <see cref="ITrainingBackend"/> ops).</item>
/// </list>
/// </summary>
public interface IFineTuneTask : IDisposable
{
    /// <summary>The task's name as the --task flag spells it ("rotation").</summary>
    string Name { get; }

    /// <summary>Creates the head for features of <paramref name="channels"/> channels with a seeded RNG; called once
    /// by the trainer before anything else (and before a checkpoint's values are loaded into the parameters).</summary>
    void Initialize(ITrainingBackend backend, int channels, Random rng);

    /// <summary>The head's parameters (all Trained), stable names such as "head.rotation.weight".</summary>
    IReadOnlyList<TrainableParameter> Parameters { get; }

    /// <summary>How many source images one batch takes for a batch size of <paramref name="batchSize"/> (the
    /// --batch flag counts source images, whatever the task makes of them).</summary>
    int ImagesPerBatch(int batchSize);

    /// <summary>The rows of one step made from <paramref name="images"/>; <paramref name="training"/> false for
    /// held-out batches (which should be reproducible: e.g. every rotation of each image).</summary>
    FineTuneBatch MakeBatch(IReadOnlyList<NominalImage> images, Random rng, bool training);

    /// <summary>The loss of <paramref name="batch"/> given the last trained stage's output
    /// <paramref name="features"/> [Rows, C, h, w]. With <paramref name="gradient"/>: the head's parameter
    /// gradients accumulated into <see cref="Parameters"/> and d(loss·lossScale)/d(features) returned (owned by the
    /// caller); without: null (held-out evaluation).</summary>
    (TaskResult Result, DeviceTensor? FeatureGradient) Loss(ITrainingBackend backend, DeviceTensor features, FineTuneBatch batch,
        bool gradient, double lossScale = 1);

    /// <summary>For `finetune --dump-step`: while set, every <see cref="Loss"/> call hands each ReLU output of the
    /// head to it, named by its PyTorch module path ("head.contrastive.2"), so that a float64 cross-check can keep
    /// the engine's side of each kink. Heads without a ReLU ignore it.</summary>
    Action<string, DeviceTensor>? HeadReluSink { get => null; set { } }
}
