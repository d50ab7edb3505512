namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public ConvLayer CreateConv(ConvSpec spec, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias) => throw new NotImplementedException();
    public DeviceTensor Conv2d(DeviceTensor x, ConvLayer conv, DeviceTensor? residual = null, bool relu = false) => throw new NotImplementedException();
}
