using System.Globalization;
using PatchCore.Backbone;
using PatchCore.Backends;
using PatchCore.Tensors;
using PatchCore.Weights;

namespace PatchCore.FineTuning;

/// <summary>What a run produced: the fine-tuned weights (with their provenance metadata) and the epochs.</summary>
public sealed record FineTuneResult(WeightFile Weights, Dictionary<string, string> Provenance, IReadOnlyList<EpochRecord> History);

/// <summary>
/// The fine-tuning loop (issue 13): held-out split, epochs of shuffled batches, the task's loss, the optional
/// feature penalty and L2-SP, the optimiser (SGD with momentum or AdamW, weight decay) under a cosine schedule with
/// linear warm-up, a held-out evaluation and an atomic checkpoint per epoch, resume. Task-agnostic: everything
/// specific to a task is behind <see cref="IFineTuneTask"/>. Deterministic for a seed on the CPU backends (the ops
/// are, and every random choice comes from generators seeded by (seed, epoch)).
/// </summary>
public sealed class FineTuner(ITrainingBackend backend, WeightFile weights, IFineTuneTask task, FineTuneConfig config, Action<string>? log = null)
{
    sealed class Slot
    {
        public required TrainableParameter Parameter;
        public DeviceTensor? A, B; // SGD momentum / AdamW m and v
        public float[]? Pretrained; // for L2-SP
    }

    /// <summary>Runs the epochs not yet done. <paramref name="stopAfterEpochs"/>: stop once that many epochs are done
    /// (an interruption, for tests of resume); the result then holds the weights so far.</summary>
    public FineTuneResult Run(IReadOnlyList<NominalImage> images, string? checkpointPath = null, bool resume = false, int? stopAfterEpochs = null)
    {
        var c = config;
        c.Validate();
        var (train, heldOut) = Split(images);
        using var net = CreateNet();
        var penaltyLayers = PenaltyLayers(net);

        var slots = CreateSlots(net);
        var everything = net.Parameters.Concat(task.Parameters).ToArray();
        try
        {
            int stepsPerEpoch = (train.Length + c.Batch - 1) / c.Batch;
            int totalSteps = stepsPerEpoch * c.Epochs;
            int warmup = Math.Min(totalSteps, (int)Math.Round(c.WarmupEpochs * stepsPerEpoch));
            int step = 0, startEpoch = 0;
            var history = new List<EpochRecord>();
            if (resume && checkpointPath != null && File.Exists(checkpointPath))
            {
                var ck = FineTuneCheckpoint.Load(checkpointPath);
                if (ck.ConfigJson != c.ToJson()) throw new InvalidDataException($"{checkpointPath}: made with another configuration ({ck.ConfigJson})");
                if (ck.BaseHash != weights.Identity) throw new InvalidDataException($"{checkpointPath}: made from other base weights");
                foreach (var p in everything) Restore(ck, "value/" + p.Name, p.Value, checkpointPath);
                foreach (var s in slots)
                {
                    Restore(ck, (c.Optimizer == "adamw" ? "adamw.m/" : "sgd.momentum/") + s.Parameter.Name, s.A!, checkpointPath);
                    if (s.B != null) Restore(ck, "adamw.v/" + s.Parameter.Name, s.B, checkpointPath);
                }
                step = ck.Step;
                startEpoch = ck.EpochsDone;
                history = ck.History;
                log?.Invoke($"resumed from {checkpointPath}: {startEpoch} of {c.Epochs} epochs done");
            }

            // Epoch 0: the held-out loss and accuracy before any step (pretrained backbone, freshly initialised head),
            // the baseline the epochs are read against. Evaluation draws from its own generators and leaves BN
            // statistics alone, so training is the same with or without it.
            if (startEpoch == 0 && heldOut.Length > 0)
            {
                var (loss0, accuracy0) = Evaluate(net, heldOut);
                history.Add(new EpochRecord(0, double.NaN, loss0, accuracy0, 0));
                log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                    $"epoch 0/{c.Epochs} (before training): held-out loss {loss0:F4}, held-out accuracy {100 * accuracy0:F1}% ({heldOut.Length} images)"));
            }
            for (int epoch = startEpoch; epoch < Math.Min(c.Epochs, stopAfterEpochs ?? c.Epochs); epoch++)
            {
                var (rng, perm) = EpochOrder(epoch, train.Length);
                double lossSum = 0, lr = 0;
                int batches = 0;
                for (int start = 0; start < perm.Length; start += c.Batch)
                {
                    var batchImages = BatchImages(train, perm, start);
                    lr = LearningRateSchedule.CosineWithWarmup(step, totalSteps, warmup, c.LearningRate, c.MinLearningRate);
                    lossSum += TrainStep(net, batchImages, rng, penaltyLayers, slots, step, lr);
                    batches++;
                    step++;
                }
                var (heldLoss, heldAccuracy) = Evaluate(net, heldOut);
                var record = new EpochRecord(epoch + 1, lossSum / batches, heldLoss, heldAccuracy, lr);
                history.Add(record);
                log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                    $"epoch {epoch + 1}/{c.Epochs}: train loss {record.TrainLoss:F4}, held-out loss {heldLoss:F4}, held-out accuracy {100 * heldAccuracy:F1}% ({heldOut.Length} images), lr {lr:G4}"));
                if (checkpointPath != null) SaveCheckpoint(checkpointPath, epoch + 1, step, history, everything, slots);
            }
            var provenance = Provenance(history);
            return new FineTuneResult(net.ToWeights(), provenance, history);
        }
        finally { DisposeSlots(slots); }
    }

    /// <summary>The optimiser state of every trained parameter (backbone, then head), zeroed; L2-SP's anchors.</summary>
    List<Slot> CreateSlots(TrainableResNet net)
    {
        var slots = new List<Slot>();
        foreach (var p in net.Parameters.Where(p => p.Trained))
            slots.Add(new Slot { Parameter = p, Pretrained = config.L2sp > 0 ? Host(p.Value) : null });
        foreach (var p in task.Parameters) slots.Add(new Slot { Parameter = p });
        foreach (var s in slots)
        {
            s.A = backend.Upload(new float[s.Parameter.Value.Length], s.Parameter.Value.Shape);
            if (config.Optimizer == "adamw") s.B = backend.Upload(new float[s.Parameter.Value.Length], s.Parameter.Value.Shape);
        }
        return slots;
    }

    static void DisposeSlots(List<Slot> slots)
    {
        foreach (var s in slots) { s.A?.Dispose(); s.B?.Dispose(); }
    }

    /// <summary>
    /// <paramref name="steps"/> optimiser steps exactly as <see cref="Run"/> takes them (the same net, head, batch
    /// making, forward, loss, penalties, backward and optimiser; <see cref="TrainStep"/>) on every image of
    /// <paramref name="images"/> (no held-out split, no evaluation, no checkpoint, the peak learning rate), for
    /// `pcnative bench train`: <paramref name="afterStep"/> gets each step's index and wall time.
    /// </summary>
    public void RunSteps(IReadOnlyList<NominalImage> images, int steps, Action<int, TimeSpan> afterStep)
    {
        config.Validate();
        if (images.Count == 0) throw new ArgumentException("bench steps need at least 1 image");
        var all = images.ToArray();
        using var net = CreateNet();
        var penaltyLayers = PenaltyLayers(net);
        var slots = CreateSlots(net);
        try
        {
            var (rng, perm) = EpochOrder(0, all.Length);
            int perBatch = task.ImagesPerBatch(config.Batch), start = 0;
            for (int step = 0; step < steps; step++)
            {
                if (start + perBatch > perm.Length) start = 0; // wrap: every step a full batch when there are enough images
                var sw = System.Diagnostics.Stopwatch.StartNew();
                TrainStep(net, BatchImages(all, perm, start), rng, penaltyLayers, slots, step, config.LearningRate);
                afterStep(step, sw.Elapsed);
                start += perBatch;
            }
        }
        finally { DisposeSlots(slots); }
    }

    /// <summary>The held-out split: a seeded permutation, the first share held out.</summary>
    (NominalImage[] Train, NominalImage[] HeldOut) Split(IReadOnlyList<NominalImage> images)
    {
        if (images.Count < 2) throw new ArgumentException($"fine-tuning needs at least 2 images, got {images.Count}");
        var order = Enumerable.Range(0, images.Count).ToArray();
        new Random(config.Seed).Shuffle(order);
        int held = config.Holdout > 0 ? Math.Clamp((int)Math.Round(config.Holdout * images.Count), 1, images.Count - 1) : 0;
        return (order[held..].Select(i => images[i]).ToArray(), order[..held].Select(i => images[i]).ToArray());
    }

    /// <summary>The trainable net on the base weights and the task's head (seeded), as every run starts.</summary>
    TrainableResNet CreateNet()
    {
        var mode = config.BatchNorm == "train" ? BatchNormMode.Train : BatchNormMode.Frozen;
        var net = TrainableResNet.Create(backend, weights, config.TrainStages.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries), mode);
        try { task.Initialize(backend, net.OutputChannels, new Random(config.Seed ^ 0x5eed)); }
        catch { net.Dispose(); throw; }
        return net;
    }

    string[] PenaltyLayers(TrainableResNet net) =>
        config.FeaturePenalty > 0 ? net.TrainedStages.Where(s => s is "layer2" or "layer3").ToArray() : [];

    /// <summary>An epoch's generator (seeded by seed and epoch: a resumed run draws the same) and its shuffled
    /// order of the training images; the same generator then makes the epoch's batches.</summary>
    (Random Rng, int[] Order) EpochOrder(int epoch, int trainCount)
    {
        var rng = new Random(unchecked(config.Seed * 1000003 + epoch));
        var perm = Enumerable.Range(0, trainCount).ToArray();
        rng.Shuffle(perm);
        return (rng, perm);
    }

    NominalImage[] BatchImages(NominalImage[] train, int[] perm, int start)
    {
        int count = Math.Min(task.ImagesPerBatch(config.Batch), perm.Length - start);
        var batchImages = new NominalImage[count];
        for (int i = 0; i < count; i++) batchImages[i] = train[perm[start + i]];
        return batchImages;
    }

    /// <summary>
    /// The first training step of a run — the same split, head initialisation, epoch-0 order, batch (augmentation,
    /// rotations, CutMix) and forward + backward as <see cref="Run"/>'s first step — without the optimiser step:
    /// the batch, its loss, every trained parameter's gradient (before L2-SP and weight decay, which the optimiser
    /// step adds) and the maps around the trained stages, for a cross-check against another implementation
    /// (tools/torch_grad_check.py). BN running statistics after the step's forward are included (train mode moves them).
    /// </summary>
    public FineTuneStep FirstStep(IReadOnlyList<NominalImage> images)
    {
        config.Validate();
        var (train, _) = Split(images);
        using var net = CreateNet();
        var (rng, perm) = EpochOrder(0, train.Length);
        var batchImages = BatchImages(train, perm, 0);
        var heads = new Dictionary<string, Tensor>();
        foreach (var p in task.Parameters) heads[p.Name] = HostTensor(p.Value);
        FineTuneBatch? batch = null;
        var maps = new Dictionary<string, Tensor>();
        task.HeadReluSink = (name, t) => maps["relu/" + name] = HostTensor(t);
        TaskResult result;
        try
        {
            result = StepGradients(net, batchImages, rng, PenaltyLayers(net), (b, pass) =>
            {
                batch = b;
                foreach (var (name, t) in pass.FrozenOutputs) maps["frozen/" + name] = HostTensor(t);
                foreach (var (name, t) in pass.Outputs) maps["output/" + name] = HostTensor(t);
                foreach (var (name, t) in pass.ReluOutputs()) maps["relu/" + name] = HostTensor(t);
            });
        }
        finally { task.HeadReluSink = null; }
        var gradients = new Dictionary<string, Tensor>();
        var buffers = new Dictionary<string, Tensor>();
        try
        {
            foreach (var p in net.Parameters.Concat(task.Parameters))
            {
                if (p.Trained) gradients[p.Name] = HostTensor(p.Gradient ?? throw new InvalidOperationException($"{p.Name}: no gradient after backward"));
                else buffers[p.Name] = HostTensor(p.Value);
            }
        }
        finally
        {
            net.ClearGradients();
            foreach (var p in task.Parameters) p.ClearGradient();
        }
        return new FineTuneStep(task.Name, config, weights.Identity, batch!, result, gradients, heads, maps, buffers);
    }

    /// <summary>One optimiser step; returns the task loss (penalties excluded, reported apart in the log).</summary>
    double TrainStep(TrainableResNet net, NominalImage[] images, Random rng, string[] penaltyLayers, List<Slot> slots, int step, double lr)
    {
        var c = config;
        var result = StepGradients(net, images, rng, penaltyLayers);
        foreach (var s in slots)
        {
            var p = s.Parameter;
            var gradient = p.Gradient ?? throw new InvalidOperationException($"{p.Name}: no gradient after backward");
            if (s.Pretrained != null)
            {
                // L2-SP: λ/2·‖w − w0‖² adds λ(w − w0) to the gradient.
                var w = Host(p.Value);
                var gh = Host(gradient);
                for (int i = 0; i < gh.Length; i++) gh[i] += (float)(c.L2sp * (w[i] - s.Pretrained[i]));
                gradient = backend.Upload(gh, p.Value.Shape);
            }
            if (c.Optimizer == "adamw")
                backend.AdamWStep(p.Value, gradient, s.A!, s.B!, step + 1, new AdamWOptions(WeightDecay: c.WeightDecay), lr);
            else
                backend.SgdStep(p.Value, gradient, s.A!, new SgdOptions(c.Momentum, c.WeightDecay), lr);
            if (!ReferenceEquals(gradient, p.Gradient)) gradient.Dispose();
            p.ClearGradient();
        }
        return result.Loss;
    }

    /// <summary>A step's batch from <paramref name="images"/>, the forward, the task loss (+ the feature penalty's
    /// gradient) and the backward: every trained parameter's Gradient holds d(loss)/d(parameter) afterwards.
    /// <paramref name="inspect"/> sees the batch and the pass before the pass is disposed.</summary>
    TaskResult StepGradients(TrainableResNet net, NominalImage[] images, Random rng, string[] penaltyLayers,
        Action<FineTuneBatch, TrainableResNet.Pass>? inspect = null)
    {
        var c = config;
        var batch = task.MakeBatch(images, rng, training: true);
        using var x = backend.Upload(batch.Input, batch.Rows, 3, batch.Height, batch.Width);
        using var pass = net.Forward(x, training: true, penaltyLayers);
        var (result, dfeatures) = task.Loss(backend, pass.Outputs[net.OutputStage], batch, gradient: true);
        var grads = new Dictionary<string, DeviceTensor> { [net.OutputStage] = dfeatures! };
        try
        {
            // Feature penalty λ·mean((f − f0)²) per layer: gradient 2λ(f − f0)/count, computed on the host.
            foreach (var layer in penaltyLayers)
            {
                var f = Host(pass.Outputs[layer]);
                var f0 = Host(pass.FrozenOutputs[layer]);
                var g = new float[f.Length];
                double scale = 2 * c.FeaturePenalty / f.Length;
                for (int i = 0; i < f.Length; i++) g[i] = (float)(scale * (f[i] - f0[i]));
                var gt = backend.Upload(g, pass.Outputs[layer].Shape);
                if (grads.TryGetValue(layer, out var existing)) { grads[layer] = backend.Add(existing, gt); existing.Dispose(); gt.Dispose(); }
                else grads[layer] = gt;
            }
            net.Backward(pass, grads);
        }
        finally { foreach (var g in grads.Values) g.Dispose(); }
        inspect?.Invoke(batch, pass);
        return result;
    }

    /// <summary>Held-out loss (mean over batches weighted by rows) and accuracy, BN on running statistics.</summary>
    (double Loss, double Accuracy) Evaluate(TrainableResNet net, NominalImage[] heldOut)
    {
        if (heldOut.Length == 0) return (double.NaN, double.NaN);
        double lossSum = 0;
        long rows = 0, correct = 0, total = 0;
        var rng = new Random(config.Seed);
        for (int start = 0; start < heldOut.Length; start += config.Batch)
        {
            var images = heldOut[start..Math.Min(heldOut.Length, start + config.Batch)];
            var batch = task.MakeBatch(images, rng, training: false);
            using var x = backend.Upload(batch.Input, batch.Rows, 3, batch.Height, batch.Width);
            using var pass = net.Forward(x, training: false);
            var (r, _) = task.Loss(backend, pass.Outputs[net.OutputStage], batch, gradient: false);
            lossSum += r.Loss * batch.Rows;
            rows += batch.Rows;
            correct += r.Correct;
            total += r.Total;
        }
        return (lossSum / rows, total == 0 ? double.NaN : (double)correct / total);
    }

    void SaveCheckpoint(string path, int epochsDone, int step, List<EpochRecord> history, TrainableParameter[] everything, List<Slot> slots)
    {
        var tensors = new Dictionary<string, Tensor>();
        foreach (var p in everything) tensors["value/" + p.Name] = new Tensor(Host(p.Value), p.Value.Shape);
        foreach (var s in slots)
        {
            tensors[(config.Optimizer == "adamw" ? "adamw.m/" : "sgd.momentum/") + s.Parameter.Name] = new Tensor(Host(s.A!), s.A!.Shape);
            if (s.B != null) tensors["adamw.v/" + s.Parameter.Name] = new Tensor(Host(s.B), s.B.Shape);
        }
        new FineTuneCheckpoint
        {
            EpochsDone = epochsDone, Step = step, ConfigJson = config.ToJson(), BaseHash = weights.Identity,
            History = [.. history], Tensors = tensors,
        }.Save(path);
    }

    void Restore(FineTuneCheckpoint ck, string name, DeviceTensor into, string path)
    {
        if (!ck.Tensors.TryGetValue(name, out var t) || !t.Shape.AsSpan().SequenceEqual(into.Shape))
            throw new InvalidDataException($"{path}: checkpoint lacks '{name}' {into.ShapeString}");
        // The optimiser updates tensors in place, so the checkpoint's values go into the existing tensors.
        // ITrainingBackend has no in-place copy op yet: host tensors are written directly; a device backend refuses.
        if (into is not HostDeviceTensor h)
            throw new NotSupportedException("resume on a device backend needs an in-place copy op (not yet in ITrainingBackend)");
        t.Data.AsSpan(0, (int)t.Length).CopyTo(h.Span);
    }

    Tensor HostTensor(DeviceTensor t) => new(Host(t), t.Shape);

    float[] Host(DeviceTensor t)
    {
        var v = new float[t.Length];
        backend.Download(t, v);
        return v;
    }

    Dictionary<string, string> Provenance(List<EpochRecord> history)
    {
        var last = history[^1];
        string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        return new Dictionary<string, string>
        {
            ["finetune.task"] = task.Name,
            ["finetune.base_sha256"] = weights.Identity,
            ["finetune.config"] = config.ToJson(),
            ["finetune.seed"] = config.Seed.ToString(CultureInfo.InvariantCulture),
            ["finetune.final_train_loss"] = F(last.TrainLoss),
            ["finetune.final_heldout_loss"] = F(last.HeldOutLoss),
            ["finetune.final_heldout_accuracy"] = F(last.HeldOutAccuracy),
            ["finetune.history"] = System.Text.Json.JsonSerializer.Serialize(history, FineTuneCheckpoint.HistoryJson),
        };
    }

    /// <summary>Writes fine-tuned weights: the usual weight metadata plus the provenance keys, atomically.</summary>
    public static void Save(FineTuneResult result, string path)
    {
        WeightValidation.Validate(result.Weights.Metadata, result.Weights.Tensors, path);
        var meta = WeightMetadataCodec.ToStrings(result.Weights.Metadata);
        foreach (var (k, v) in result.Provenance) meta[k] = v;
        Safetensors.Write(path, result.Weights.Tensors, meta);
    }
}
