using PatchCore.Backends;

namespace PatchCore.Backbone;

/// <summary>
/// One named tensor a fine-tuning run keeps on the backend: a trained parameter (conv weight, conv bias, BN γ or β,
/// a head's weight) with the gradient of the last backward pass, or a buffer (BN running statistics) that training
/// changes without an optimiser. Names are the weight file's tensor names ("layer3.0.conv1.weight") or a task's
/// ("head.rotation.weight"), so checkpoints and written weights use one vocabulary.
/// </summary>
public sealed class TrainableParameter : IDisposable
{
    public TrainableParameter(string name, DeviceTensor value, bool trained)
    {
        Name = name;
        Value = value;
        Trained = trained;
    }

    public string Name { get; }
    public DeviceTensor Value { get; }
    /// <summary>False for buffers (running statistics): the optimiser skips them, checkpoints keep them.</summary>
    public bool Trained { get; }
    /// <summary>d(loss)/d(Value) of the last backward pass; null before one (or for buffers). Owned here.</summary>
    public DeviceTensor? Gradient { get; private set; }

    /// <summary>Takes ownership of <paramref name="gradient"/>; a second gradient in the same step is added
    /// (a parameter used twice), through the backend.</summary>
    public void AccumulateGradient(IBackend backend, DeviceTensor gradient)
    {
        if (!gradient.Shape.AsSpan().SequenceEqual(Value.Shape))
            throw new ArgumentException($"{Name}: gradient {gradient.ShapeString} for a {Value.ShapeString} parameter");
        if (Gradient == null) { Gradient = gradient; return; }
        var sum = backend.Add(Gradient, gradient);
        Gradient.Dispose();
        gradient.Dispose();
        Gradient = sum;
    }

    /// <summary>Forget the last step's gradient (before the next forward).</summary>
    public void ClearGradient()
    {
        Gradient?.Dispose();
        Gradient = null;
    }

    public void Dispose()
    {
        ClearGradient();
        Value.Dispose();
    }
}
