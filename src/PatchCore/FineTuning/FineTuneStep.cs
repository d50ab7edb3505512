using System.Globalization;
using PatchCore.Tensors;
using PatchCore.Weights;

namespace PatchCore.FineTuning;

/// <summary>
/// The facts of one training step (<see cref="FineTuner.FirstStep"/>): the batch exactly as the task made it, the
/// task loss, the gradient of every trained parameter, the head's initial values, the maps around the trained
/// stages and the BN buffers after the step's forward. Written by `pcnative finetune --dump-step FILE` as one
/// safetensors file so that another implementation (tools/torch_grad_check.py, PyTorch autograd) can recompute the
/// same step from the same weights and compare. Tensor names (float32 all):
/// <list type="bullet">
/// <item>"input" [Rows, 3, H, W]: the batch in the backbone's normalisation; the task's own ("labels" [Rows] for
/// rotation; <see cref="FineTuneBatch.Describe"/>);</item>
/// <item>"loss" [1]: the task loss (feature penalty excluded; metadata "loss" has it in full double precision);</item>
/// <item>"grad/NAME": d(loss + feature penalty)/d(NAME) for every trained parameter, NAME as torchvision spells it
/// ("layer3.0.conv1.weight", "layer3.0.bn1.weight" = γ, "layer3.0.downsample.1.bias" = β) or the head's
/// ("head.rotation.weight", "head.contrastive.0.weight" = nn.Sequential(Linear, ReLU, Linear) index 0);
/// before L2-SP and weight decay, which the optimiser step adds;</item>
/// <item>"init/NAME": the head's initial values (its random initialisation, for the other side to copy);</item>
/// <item>"frozen/layerK", "output/layerK": the frozen prefix's output (the trained stages' input) and each trained
/// stage's output, to tell a forward difference from a backward one;</item>
/// <item>"relu/layerK.B.reluI", "relu/layerK.B.out": every ReLU output of the trained stages (which side of the
/// kink each pre-activation fell on: float32 and float64 can disagree where it is within rounding of 0); and the
/// head's ReLU outputs under their module path, "relu/head.contrastive.2" (<see cref="IFineTuneTask.HeadReluSink"/>);</item>
/// <item>"buffer/NAME": BN running statistics after the step's forward (moved in BN train mode).</item>
/// </list>
/// Metadata: "task", "config" (the run's FineTuneConfig JSON, flag names), "base_sha256", "rows", "loss", the
/// task's keys (<see cref="FineTuneBatch.Describe"/>).
/// </summary>
public sealed record FineTuneStep(
    string Task, FineTuneConfig Config, string BaseIdentity, FineTuneBatch Batch, TaskResult Result,
    IReadOnlyDictionary<string, Tensor> Gradients, IReadOnlyDictionary<string, Tensor> HeadInit,
    IReadOnlyDictionary<string, Tensor> Maps, IReadOnlyDictionary<string, Tensor> Buffers)
{
    /// <summary>Writes the step as safetensors, atomically (temp name + rename: never a half-written dump).</summary>
    public void Save(string path)
    {
        var inv = CultureInfo.InvariantCulture;
        var tensors = new Dictionary<string, Tensor>
        {
            ["input"] = new Tensor(Batch.Input, Batch.Rows, 3, Batch.Height, Batch.Width),
            ["loss"] = new Tensor([(float)Result.Loss], 1),
        };
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pcnative-finetune-step-1",
            ["task"] = Task,
            ["config"] = Config.ToJson(),
            ["base_sha256"] = BaseIdentity,
            ["rows"] = Batch.Rows.ToString(inv),
            ["loss"] = Result.Loss.ToString("R", inv),
            ["correct"] = Result.Correct.ToString(inv),
        };
        Batch.Describe(tensors, metadata);
        foreach (var (k, v) in Gradients) tensors["grad/" + k] = v;
        foreach (var (k, v) in HeadInit) tensors["init/" + k] = v;
        foreach (var (k, v) in Maps) tensors[k] = v;
        foreach (var (k, v) in Buffers) tensors["buffer/" + k] = v;
        Safetensors.Write(path, tensors, metadata);
    }
}
