namespace PatchCore.Backends;

/// <summary>
/// A convolution with BatchNorm already folded into its weight and bias, prepared by a backend in the form
/// that backend computes with (packed panels for the fast CPU backend, device buffers for the GPU ones).
/// </summary>
public abstract class ConvLayer : IDisposable
{
    protected ConvLayer(ConvSpec spec) { Spec = spec; }
    public ConvSpec Spec { get; }
    public virtual void Dispose() { GC.SuppressFinalize(this); }
}
