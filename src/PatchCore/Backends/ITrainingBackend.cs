namespace PatchCore.Backends;

/// <summary>
/// The ops a backend needs to TRAIN a ResNet (issue 13): forward ops whose parameters change every step, the
/// backward of every layer, two losses, two optimiser steps. A backend that can train implements this beside
/// <see cref="IBackend"/> (whose inference ops, with folded BatchNorm, stay as they are).
///
/// <para><b>One training step</b> with these ops (conv–BN–ReLU shown; every layer the same way):</para>
/// <code>
///   forward:   a  = Conv2dForward(x, W, null, spec)            keep x (the conv's cache is its input)
///              bn = BatchNorm2dTrainForward(a, γ, β, rm, rv, m, eps)   keep a, bn.SavedMean, bn.SavedInvStd
///              y  = Relu(bn.Output)                              keep y  (ReLU's cache is its output)
///              ... head, loss = SoftmaxCrossEntropyForward(logits, labels)   keep loss.Saved
///   backward:  dlogits = SoftmaxCrossEntropyBackward(loss, labels, 1)
///              ... dy  = ReluBackward(dupstream, y)
///              g = BatchNorm2dTrainBackward(dy, a, γ, bn.SavedMean, bn.SavedInvStd)   → dγ, dβ, da
///              c = Conv2dBackward(g.Input, x, W, spec, needInput, needBias:false)        → dW, dx
///   update:    lr = LearningRateSchedule.CosineWithWarmup(step, ...)
///              SgdStep(W, c.Weight, momentumOfW, options, lr)   (or AdamWStep), for every parameter
/// </code>
/// <para><b>What is cached</b> between forward and backward is explicit and small: the op's INPUT for conv, linear,
/// max-pool (the argmax is recomputed from it: ties → first, as PyTorch), frozen BN and L2 normalisation; the
/// OUTPUT for ReLU; the batch mean and 1/sqrt(var+eps) per channel for training-mode BN
/// (<see cref="BatchNormTrainOutput"/>); the softmax probabilities for the two losses (<see cref="LossOutput"/>).
/// Global average pooling needs only the input's H and W.</para>
/// <para><b>Residual add</b> needs no backward op: y = a + b gives dy to both branches unchanged, so the caller
/// hands the same gradient tensor to both; where one tensor feeds two branches (the block input feeds the
/// convs and the shortcut) the two gradients are summed with <see cref="IBackend.Add"/>.</para>
/// <para><b>Who owns buffers</b>: as in IBackend, every op returns NEW tensors owned by the caller (dispose them);
/// inputs are not modified — except the state an op exists to update, named in its doc: BN's running mean and
/// variance, and the parameter and optimiser state of the optimiser steps (updated in place, so a model keeps
/// its tensors on the device across steps). Gradients are returned, never accumulated into the caller's tensors.</para>
/// <para>Conventions: float32 tensors, NCHW maps, [rows, features] matrices, weights in PyTorch layout (conv
/// [Cout, Cin, Kh, Kw], linear [out, in]); losses are returned to the host as double, and scalar hyperparameters
/// are doubles (as Python's floats, so 0.9 means what it means in PyTorch). Every backward takes the upstream
/// gradient first.</para>
/// </summary>
public interface ITrainingBackend : IBackend
{
    // ---- convolution --------------------------------------------------------------------------------
    /// <summary>y = conv(x, weight) [+ bias]: x [N, Cin, H, W], weight [Cout, Cin, Kh, Kw], bias [Cout] or null.
    /// Same geometry as the inference conv (asymmetric pads, stride), but the weight is a plain tensor.</summary>
    DeviceTensor Conv2dForward(DeviceTensor x, DeviceTensor weight, DeviceTensor? bias, ConvSpec spec);
    /// <summary>Gradients of a conv for upstream dy [N, Cout, OH, OW]: weight always; input when
    /// <paramref name="inputGradient"/> (not for the first layer), bias when <paramref name="biasGradient"/>.</summary>
    LayerGradients Conv2dBackward(DeviceTensor dy, DeviceTensor x, DeviceTensor weight, ConvSpec spec,
        bool inputGradient, bool biasGradient);

    // ---- BatchNorm ----------------------------------------------------------------------------------
    // Every BN op takes x as [N, C, H, W] (BatchNorm2d) or [N, C] (BatchNorm1d: the contrastive projection head).
    /// <summary>Training mode: normalise x [N, C, H, W] with the batch's mean and biased variance per channel, then
    /// γ·x̂ + β. Updates <paramref name="runningMean"/> and <paramref name="runningVar"/> IN PLACE as PyTorch:
    /// running = (1 − momentum)·running + momentum·batch, with the UNBIASED batch variance for the running var.</summary>
    BatchNormTrainOutput BatchNorm2dTrainForward(DeviceTensor x, DeviceTensor gamma, DeviceTensor beta,
        DeviceTensor runningMean, DeviceTensor runningVar, double momentum, double eps);
    /// <summary>dx, dγ, dβ of training-mode BN (the batch statistics depend on x, so dx has the two mean terms).</summary>
    LayerGradients BatchNorm2dTrainBackward(DeviceTensor dy, DeviceTensor x, DeviceTensor gamma,
        DeviceTensor savedMean, DeviceTensor savedInvStd);
    /// <summary>Frozen BN: y = γ·(x − running mean)/sqrt(running var + eps) + β; the statistics are constants.</summary>
    DeviceTensor BatchNorm2dFrozenForward(DeviceTensor x, DeviceTensor gamma, DeviceTensor beta,
        DeviceTensor runningMean, DeviceTensor runningVar, double eps);
    /// <summary>dx, dγ, dβ of frozen BN (γ and β may still be trained while the statistics stay fixed).</summary>
    LayerGradients BatchNorm2dFrozenBackward(DeviceTensor dy, DeviceTensor x, DeviceTensor gamma,
        DeviceTensor runningMean, DeviceTensor runningVar, double eps);

    // ---- activations and pooling --------------------------------------------------------------------
    /// <summary>dx = dy where y &gt; 0, else 0 (y is ReLU's output, as PyTorch's threshold_backward).</summary>
    DeviceTensor ReluBackward(DeviceTensor dy, DeviceTensor y);
    /// <summary>Routes each dy cell to the argmax of its window in x (first in row-major window order on ties,
    /// padded cells never win); overlapping windows add up.</summary>
    DeviceTensor MaxPool2dBackward(DeviceTensor dy, DeviceTensor x, PoolSpec pool);
    /// <summary>dy [N, C] → dx [N, C, H, W] = dy / (H·W) on every cell.</summary>
    DeviceTensor GlobalAvgPoolBackward(DeviceTensor dy, int h, int w);

    // ---- heads ---------------------------------------------------------------------------------------
    /// <summary>y = x·Wᵀ [+ b]: x [N, in], weight [out, in], bias [out] or null → [N, out].</summary>
    DeviceTensor LinearForward(DeviceTensor x, DeviceTensor weight, DeviceTensor? bias);
    LayerGradients LinearBackward(DeviceTensor dy, DeviceTensor x, DeviceTensor weight, bool inputGradient, bool biasGradient);
    /// <summary>y_i = x_i / max(‖x_i‖, eps) per row of x [N, D] (F.normalize, eps 1e-12 there).</summary>
    DeviceTensor L2NormalizeRows(DeviceTensor x, double eps);
    DeviceTensor L2NormalizeRowsBackward(DeviceTensor dy, DeviceTensor x, double eps);

    // ---- losses --------------------------------------------------------------------------------------
    /// <summary>Mean over the batch of −log softmax(logits)[label]; logits [N, K]. Saved: the probabilities.</summary>
    LossOutput SoftmaxCrossEntropyForward(DeviceTensor logits, ReadOnlySpan<int> labels);
    /// <summary>dlogits = lossGradient·(p − onehot)/N; lossGradient is d(total)/d(this loss), 1 when it is the only one.</summary>
    DeviceTensor SoftmaxCrossEntropyBackward(LossOutput forward, ReadOnlySpan<int> labels, double lossGradient);
    /// <summary>
    /// NT-Xent (SimCLR) on rows z [2P + E, D], normally L2-normalised first (<see cref="L2NormalizeRows"/>):
    /// rows 0..P−1 and P..2P−1 are the two views, the positive of row i is i ± P; the last E rows are EXTRA
    /// NEGATIVES (e.g. CutMix images): in every anchor's denominator, never anchors themselves.
    /// s_ik = z_i·z_k / τ; loss = 1/(2P) Σ_{i&lt;2P} [ log Σ_{k≠i} exp s_ik − s_i,pos(i) ]. Saved: the softmax
    /// over k ≠ i of each anchor row [2P, 2P + E].
    /// </summary>
    LossOutput NtXentForward(DeviceTensor z, int pairs, double temperature);
    DeviceTensor NtXentBackward(LossOutput forward, DeviceTensor z, int pairs, double temperature, double lossGradient);

    // ---- optimiser steps (in place on the parameter and its state) ------------------------------------
    /// <summary>PyTorch SGD (dampening 0, no Nesterov): g = grad + wd·p; buf = momentum·buf + g; p −= lr·buf.
    /// The buffer starts at zero, which with dampening 0 equals PyTorch's buf = g on the first step.</summary>
    void SgdStep(DeviceTensor parameter, DeviceTensor gradient, DeviceTensor momentumBuffer, SgdOptions options, double learningRate);
    /// <summary>PyTorch AdamW: p ·= 1 − lr·wd; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
    /// p −= (lr / (1−β1^t)) · m / (sqrt(v)/sqrt(1−β2^t) + eps). <paramref name="step"/> t counts from 1;
    /// m and v start at zero.</summary>
    void AdamWStep(DeviceTensor parameter, DeviceTensor gradient, DeviceTensor firstMoment, DeviceTensor secondMoment,
        int step, AdamWOptions options, double learningRate);
}

/// <summary>Gradients of one layer: Input (dx, null when not asked for), Weight (dW or dγ), Bias (db or dβ, null
/// when not asked for). Owned by the caller.</summary>
public sealed record LayerGradients(DeviceTensor? Input, DeviceTensor? Weight, DeviceTensor? Bias) : IDisposable
{
    public void Dispose() { Input?.Dispose(); Weight?.Dispose(); Bias?.Dispose(); }
}

/// <summary>Training-mode BN output and what its backward needs: per-channel batch mean and 1/sqrt(biased var + eps).</summary>
public sealed record BatchNormTrainOutput(DeviceTensor Output, DeviceTensor SavedMean, DeviceTensor SavedInvStd) : IDisposable
{
    public void Dispose() { Output.Dispose(); SavedMean.Dispose(); SavedInvStd.Dispose(); }
}

/// <summary>A loss value (on the host) and what its backward needs (the softmax probabilities).</summary>
public sealed record LossOutput(double Loss, DeviceTensor Saved) : IDisposable
{
    public void Dispose() => Saved.Dispose();
}

/// <summary>SGD hyperparameters besides the learning rate (which the schedule gives per step).</summary>
public sealed record SgdOptions(double Momentum = 0.9, double WeightDecay = 0);

/// <summary>AdamW hyperparameters besides the learning rate (PyTorch's defaults).</summary>
public sealed record AdamWOptions(double Beta1 = 0.9, double Beta2 = 0.999, double Eps = 1e-8, double WeightDecay = 0.01);
