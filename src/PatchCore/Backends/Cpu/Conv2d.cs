namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    public ConvLayer CreateConv(ConvSpec spec, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias) => throw new NotImplementedException();
    public DeviceTensor Conv2d(DeviceTensor x, ConvLayer conv, DeviceTensor? residual = null, bool relu = false) => throw new NotImplementedException();
}
