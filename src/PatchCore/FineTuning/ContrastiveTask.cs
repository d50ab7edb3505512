using PatchCore.Backbone;
using PatchCore.Backends;
using PatchCore.Tensors;

namespace PatchCore.FineTuning;

/// <summary>
/// SimCLR (Chen et al., ICML 2020) with CutMix (Yun et al., ICCV 2019) images as extra negatives: each source image
/// gives two augmented views (random resized crop, flip, colour jitter; <see cref="ImageAugmentation"/>), and each
/// training batch adds <see cref="ContrastiveOptions.CutMixNegatives"/> images with a patch of one batch image
/// pasted into another (then augmented like a view) — synthetic anomalies the nominal views are pushed away from.
/// Rows: views 1 [0, P), views 2 [P, 2P), CutMix [2P, 2P + E). Loss: last trained stage → global average pool →
/// projection head → L2 normalise → NT-Xent(τ), the CutMix rows in every anchor's denominator and never anchors
/// (<see cref="ITrainingBackend.NtXentForward"/>). The head is SimCLR's, linear (no bias) – BatchNorm1d – ReLU –
/// linear (<see cref="ContrastiveOptions.ProjectionNorm"/> "batch"; PyTorch indices 0, 1, 3), or linear – ReLU –
/// linear ("none"; indices 0, 2). Its BatchNorm always normalises with the batch's own statistics, held-out batches
/// too: the head is thrown away after fine-tuning, so it keeps no running statistics (nothing to checkpoint, and a
/// held-out batch of 2P rows is a batch like a training one). "Correct" counts anchors whose
/// positive has the highest similarity. Held-out batches have no CutMix and draw their views from a fixed seed, so
/// the held-out loss of one epoch is comparable with the next.
/// </summary>
public sealed class ContrastiveTask(ContrastiveOptions options) : IFineTuneTask
{
    /// <summary>Seed of the held-out views (any fixed value; the point is that it does not change per epoch).</summary>
    const int HeldOutSeed = 13;
    const double NormEps = 1e-12;
    readonly ContrastiveOptions options = Validated(options);
    TrainableParameter? w1, b1, gamma, beta, w2, b2;

    static ContrastiveOptions Validated(ContrastiveOptions o) { o.Validate(); return o; }

    public string Name => "contrastive";
    public ContrastiveOptions Options => options;
    public Action<string, DeviceTensor>? HeadReluSink { get; set; }

    public IReadOnlyList<TrainableParameter> Parameters =>
        w1 == null ? [] : gamma != null ? [w1, gamma, beta!, w2!, b2!] : [w1, b1!, w2!, b2!];

    /// <summary>PyTorch's initialisation: nn.Linear U(−1/√in, 1/√in) for weights and biases, BatchNorm1d γ = 1,
    /// β = 0. With the BatchNorm the first linear layer has no bias (the batch mean would cancel it, and its
    /// gradient is zero up to rounding — which AdamW would blow up to full-size steps).</summary>
    public void Initialize(ITrainingBackend backend, int channels, Random rng)
    {
        TrainableParameter Uniform(string name, int fanIn, params int[] shape)
        {
            double bound = 1 / Math.Sqrt(fanIn);
            int n = 1; foreach (int d in shape) n *= d;
            var v = new float[n];
            for (int i = 0; i < n; i++) v[i] = (float)((rng.NextDouble() * 2 - 1) * bound);
            return new TrainableParameter(name, backend.Upload(v, shape), true);
        }
        TrainableParameter Constant(string name, float value, int n)
        {
            var v = new float[n];
            Array.Fill(v, value);
            return new TrainableParameter(name, backend.Upload(v, n), true);
        }
        int hidden = options.ProjectionHidden, dim = options.ProjectionDim;
        w1 = Uniform("head.contrastive.0.weight", channels, hidden, channels);
        if (options.ProjectionNorm == "batch")
        {
            gamma = Constant("head.contrastive.1.weight", 1, hidden);
            beta = Constant("head.contrastive.1.bias", 0, hidden);
            w2 = Uniform("head.contrastive.3.weight", hidden, dim, hidden);
            b2 = Uniform("head.contrastive.3.bias", hidden, dim);
        }
        else
        {
            b1 = Uniform("head.contrastive.0.bias", channels, hidden);
            w2 = Uniform("head.contrastive.2.weight", hidden, dim, hidden);
            b2 = Uniform("head.contrastive.2.bias", hidden, dim);
        }
    }

    /// <summary>BatchNorm1d's eps and momentum (PyTorch's defaults; the momentum only moves throwaway buffers).</summary>
    const double HeadBnEps = 1e-5, HeadBnMomentum = 0.1;

    public int ImagesPerBatch(int batchSize) => batchSize;

    sealed class Batch(float[] input, int rows, int h, int w, int pairs) : FineTuneBatch(input, rows, h, w)
    {
        public int Pairs { get; } = pairs;

        /// <summary>Rows [0, P) and [P, 2P) are the two views (positive of i is i ± P), [2P, Rows) the CutMix
        /// negatives; with τ and the head's sizes that is all NT-Xent needs.</summary>
        public override void Describe(IDictionary<string, Tensor> tensors, IDictionary<string, string> metadata)
        {
            var inv = System.Globalization.CultureInfo.InvariantCulture;
            metadata["contrastive.pairs"] = Pairs.ToString(inv);
            metadata["contrastive.negatives"] = (Rows - 2 * Pairs).ToString(inv);
        }
    }

    public FineTuneBatch MakeBatch(IReadOnlyList<NominalImage> images, Random rng, bool training)
    {
        if (images.Count == 0) throw new ArgumentException("contrastive batch of no images");
        int h = images[0].Height, w = images[0].Width, n = 3 * h * w, p = images.Count;
        foreach (var im in images)
            if (im.Height != h || im.Width != w || im.Planes.Length != n) throw new ArgumentException($"{im.Path}: size differs within a batch");
        var r = training ? rng : new Random(HeldOutSeed);
        int extra = training ? options.CutMixNegatives : 0;
        var input = new float[(long)(2 * p + extra) * n];
        for (int view = 0; view < 2; view++)
            for (int i = 0; i < p; i++)
                View(images[i].Planes, input.AsSpan((view * p + i) * n, n), h, w, r);
        if (extra > 0)
        {
            var mixed = new float[n];
            for (int e = 0; e < extra; e++)
            {
                int a = r.Next(p), b = p > 1 ? (a + 1 + r.Next(p - 1)) % p : a;   // b ≠ a when the batch allows
                ImageAugmentation.CutMix(images[a].Planes, images[b].Planes, mixed, h, w, options.CutMixAreaMin, options.CutMixAreaMax, r);
                View(mixed, input.AsSpan((2 * p + e) * n, n), h, w, r);
            }
        }
        return new Batch(input, 2 * p + extra, h, w, p);
    }

    /// <summary>One SimCLR view: random resized crop (+ flip), then colour jitter with probability p.</summary>
    void View(ReadOnlySpan<float> src, Span<float> dst, int h, int w, Random rng)
    {
        var box = ImageAugmentation.CropBox(h, w, options.CropScaleMin, options.CropScaleMax, options.CropRatioMin, options.CropRatioMax, rng);
        bool flip = rng.NextDouble() < options.FlipProbability;
        ImageAugmentation.ResizedCrop(src, dst, h, w, box, flip);
        if (rng.NextDouble() < options.JitterProbability)
            ImageAugmentation.ColorJitter(dst, h, w, options.Brightness, options.Contrast, options.Saturation,
                ImageAugmentation.ImageNetMean, ImageAugmentation.ImageNetStd, rng);
    }

    public (TaskResult Result, DeviceTensor? FeatureGradient) Loss(ITrainingBackend backend, DeviceTensor features, FineTuneBatch batch,
        bool gradient, double lossScale = 1)
    {
        if (w1 == null) throw new InvalidOperationException("contrastive task not initialised");
        int pairs = ((Batch)batch).Pairs, rows = batch.Rows;
        double tau = options.Temperature;
        using var pooled = backend.GlobalAvgPool(features);
        using var hidden = backend.LinearForward(pooled, w1.Value, b1?.Value);
        using var normed = gamma == null ? null : NormalizeHidden(backend, hidden);
        using var act = backend.Relu(normed?.Output ?? hidden);
        HeadReluSink?.Invoke(gamma != null ? "head.contrastive.2" : "head.contrastive.1", act);
        using var z = backend.LinearForward(act, w2!.Value, b2!.Value);
        using var zn = backend.L2NormalizeRows(z, NormEps);
        using var loss = backend.NtXentForward(zn, pairs, tau);
        var result = new TaskResult(loss.Loss, PositivesFirst(backend, loss.Saved, pairs, rows), 2 * pairs);
        if (!gradient) return (result, null);
        using var dzn = backend.NtXentBackward(loss, zn, pairs, tau, lossScale);
        using var dz = backend.L2NormalizeRowsBackward(dzn, z, NormEps);
        var g2 = backend.LinearBackward(dz, act, w2.Value, inputGradient: true, biasGradient: true);
        w2.AccumulateGradient(backend, g2.Weight!);
        b2!.AccumulateGradient(backend, g2.Bias!);
        using var dact = g2.Input!;
        using var dpre = backend.ReluBackward(dact, act);   // before the ReLU: after the BatchNorm, if any
        using var dhidden = normed == null ? null : HiddenNormBackward(backend, dpre, hidden, normed);
        var g1 = backend.LinearBackward(dhidden ?? dpre, pooled, w1.Value, inputGradient: true, biasGradient: b1 != null);
        w1.AccumulateGradient(backend, g1.Weight!);
        if (b1 != null) b1.AccumulateGradient(backend, g1.Bias!);
        using var dpooled = g1.Input!;
        return (result, backend.GlobalAvgPoolBackward(dpooled, features[2], features[3]));
    }

    /// <summary>BatchNorm1d of the hidden layer [rows, hidden] on the batch's statistics; the running statistics it
    /// would update are scratch (see the class comment).</summary>
    BatchNormTrainOutput NormalizeHidden(ITrainingBackend backend, DeviceTensor hidden)
    {
        int c = hidden[1];
        using var runningMean = backend.Upload(new float[c], c);
        using var runningVar = backend.Upload(new float[c], c);
        return backend.BatchNorm2dTrainForward(hidden, gamma!.Value, beta!.Value, runningMean, runningVar, HeadBnMomentum, HeadBnEps);
    }

    DeviceTensor HiddenNormBackward(ITrainingBackend backend, DeviceTensor dy, DeviceTensor hidden, BatchNormTrainOutput normed)
    {
        var g = backend.BatchNorm2dTrainBackward(dy, hidden, gamma!.Value, normed.SavedMean, normed.SavedInvStd);
        gamma.AccumulateGradient(backend, g.Weight!);
        beta!.AccumulateGradient(backend, g.Bias!);
        return g.Input!;
    }

    /// <summary>Anchors whose positive has the largest softmax share (= the highest similarity) among k ≠ i.</summary>
    static int PositivesFirst(ITrainingBackend backend, DeviceTensor saved, int pairs, int rows)
    {
        var p = new float[saved.Length];
        backend.Download(saved, p);
        int correct = 0;
        for (int i = 0; i < 2 * pairs; i++)
        {
            var row = p.AsSpan(i * rows, rows);
            int pos = i < pairs ? i + pairs : i - pairs, best = -1;
            for (int k = 0; k < rows; k++)
                if (k != i && (best < 0 || row[k] > row[best])) best = k;
            if (best == pos) correct++;
        }
        return correct;
    }

    public void Dispose()
    {
        w1?.Dispose(); b1?.Dispose(); gamma?.Dispose(); beta?.Dispose(); w2?.Dispose(); b2?.Dispose();
    }
}
