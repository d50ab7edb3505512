using System.Numerics.Tensors;

namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    public DeviceTensor Relu(DeviceTensor x)
    {
        var y = HostMemory.Rent(x.Shape);
        TensorPrimitives.Max(HostMemory.AsHost(x).Span, 0f, y.Span);
        return y;
    }

    public DeviceTensor Add(DeviceTensor a, DeviceTensor b)
    {
        OpContracts.Add(a, b);
        var y = HostMemory.Rent(a.Shape);
        TensorPrimitives.Add(HostMemory.AsHost(a).Span, HostMemory.AsHost(b).Span, y.Span);
        return y;
    }
}
