using PatchCore.Backends;
using PatchCore.Weights;

namespace PatchCore.Backbone;

/// <summary>
/// An ImageNet ResNet (basic-block or bottleneck) built from a <see cref="WeightFile"/> on any backend:
/// BatchNorm folded into the convs at load, geometry read from the metadata.
/// </summary>
public sealed class ResNet : IDisposable
{
    ResNet() { throw new NotImplementedException(); }

    public WeightMetadata Metadata => throw new NotImplementedException();

    /// <summary>Fold BatchNorm and prepare every conv on the backend.</summary>
    public static ResNet Load(IBackend backend, WeightFile weights) => throw new NotImplementedException();

    /// <summary>Output channels of "layer1".."layer4".</summary>
    public int Channels(string layer) => throw new NotImplementedException();

    /// <summary>
    /// Runs input [N, 3, H, W] through the stem and the stages up to the deepest layer asked for, nothing after
    /// it, and returns the requested maps in request order. Names: "layer1".."layer4", and "pool" for the
    /// global-average-pooled final vector [N, C4].
    /// </summary>
    public DeviceTensor[] Forward(DeviceTensor input, params string[] layers) => throw new NotImplementedException();

    public void Dispose() { }
}
