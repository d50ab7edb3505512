using PatchCore.Backbone;
using PatchCore.Backends;
using PatchCore.Tensors;

namespace PatchCore.FineTuning;

/// <summary>
/// Rotation prediction (Gidaris, Singh, Komodakis, ICLR 2018): every image of a batch is fed at 0°, 90°, 180° and
/// 270° (all four, as the paper's best variant), and a 4-way linear head on the globally average-pooled map of the
/// last trained stage predicts which; softmax cross-entropy. Held-out batches are the same (all four rotations), so
/// the held-out accuracy is reproducible. Images must be square (the crop is).
/// </summary>
public sealed class RotationTask : IFineTuneTask
{
    public const int Rotations = 4;
    TrainableParameter? weight, bias;

    public string Name => "rotation";
    public IReadOnlyList<TrainableParameter> Parameters => weight == null ? [] : [weight, bias!];

    /// <summary>PyTorch's nn.Linear initialisation: U(−1/√C, 1/√C) for weight and bias.</summary>
    public void Initialize(ITrainingBackend backend, int channels, Random rng)
    {
        double bound = 1 / Math.Sqrt(channels);
        float[] U(int n) { var v = new float[n]; for (int i = 0; i < n; i++) v[i] = (float)((rng.NextDouble() * 2 - 1) * bound); return v; }
        weight = new TrainableParameter("head.rotation.weight", backend.Upload(U(Rotations * channels), Rotations, channels), true);
        bias = new TrainableParameter("head.rotation.bias", backend.Upload(U(Rotations), Rotations), true);
    }

    public int ImagesPerBatch(int batchSize) => batchSize;

    sealed class Batch(float[] input, int rows, int h, int w, int[] labels) : FineTuneBatch(input, rows, h, w)
    {
        public int[] Labels { get; } = labels;

        /// <summary>"labels" [Rows]: the rotation class of each row (k·90° counter-clockwise), as float32.</summary>
        public override void Describe(IDictionary<string, Tensor> tensors, IDictionary<string, string> metadata)
        {
            var l = new float[Labels.Length];
            for (int i = 0; i < l.Length; i++) l[i] = Labels[i];
            tensors["labels"] = new Tensor(l, l.Length);
            metadata["rotation.classes"] = Rotations.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    public FineTuneBatch MakeBatch(IReadOnlyList<NominalImage> images, Random rng, bool training)
    {
        if (images.Count == 0) throw new ArgumentException("rotation batch of no images");
        int h = images[0].Height, w = images[0].Width, plane = h * w;
        if (h != w) throw new ArgumentException($"rotation needs square images, {images[0].Path} is {w}x{h}");
        var input = new float[(long)images.Count * Rotations * 3 * plane];
        var labels = new int[images.Count * Rotations];
        for (int i = 0; i < images.Count; i++)
        {
            if (images[i].Height != h || images[i].Width != w) throw new ArgumentException($"{images[i].Path}: size differs within a batch");
            for (int r = 0; r < Rotations; r++)
            {
                int row = i * Rotations + r;
                labels[row] = r;
                for (int c = 0; c < 3; c++)
                    Rotate(images[i].Planes.AsSpan(c * plane, plane), input.AsSpan((int)(((long)row * 3 + c) * plane), plane), h, r);
            }
        }
        return new Batch(input, labels.Length, h, w, labels);
    }

    /// <summary>One square plane rotated counter-clockwise by r·90° (numpy's rot90).</summary>
    static void Rotate(ReadOnlySpan<float> src, Span<float> dst, int n, int r)
    {
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
            {
                int sy, sx;
                switch (r)
                {
                    case 0: sy = y; sx = x; break;
                    case 1: sy = x; sx = n - 1 - y; break;
                    case 2: sy = n - 1 - y; sx = n - 1 - x; break;
                    default: sy = n - 1 - x; sx = y; break;
                }
                dst[y * n + x] = src[sy * n + sx];
            }
    }

    public (TaskResult Result, DeviceTensor? FeatureGradient) Loss(ITrainingBackend backend, DeviceTensor features, FineTuneBatch batch,
        bool gradient, double lossScale = 1)
    {
        if (weight == null) throw new InvalidOperationException("rotation task not initialised");
        var labels = ((Batch)batch).Labels;
        using var pooled = backend.GlobalAvgPool(features);
        using var logits = backend.LinearForward(pooled, weight.Value, bias!.Value);
        using var loss = backend.SoftmaxCrossEntropyForward(logits, labels);
        var p = new float[loss.Saved.Length];
        backend.Download(loss.Saved, p);
        int correct = 0;
        for (int r = 0; r < labels.Length; r++)
        {
            int best = 0;
            for (int k = 1; k < Rotations; k++) if (p[r * Rotations + k] > p[r * Rotations + best]) best = k;
            if (best == labels[r]) correct++;
        }
        var result = new TaskResult(loss.Loss, correct, labels.Length);
        if (!gradient) return (result, null);
        using var dlogits = backend.SoftmaxCrossEntropyBackward(loss, labels, lossScale);
        var g = backend.LinearBackward(dlogits, pooled, weight.Value, inputGradient: true, biasGradient: true);
        weight.AccumulateGradient(backend, g.Weight!);
        bias.AccumulateGradient(backend, g.Bias!);
        using var dpooled = g.Input!;
        return (result, backend.GlobalAvgPoolBackward(dpooled, features[2], features[3]));
    }

    public void Dispose()
    {
        weight?.Dispose();
        bias?.Dispose();
    }
}
