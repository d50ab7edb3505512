using PatchCore.Backends;

namespace PatchCore.Cuda;

/// <summary>Relu and Add (kernels/elementwise.cu). CPU twin: Backends/Cpu/Elementwise.cs.</summary>
public sealed partial class CudaBackend
{
    public DeviceTensor Relu(DeviceTensor x)
    {
        var y = (CudaTensor)Allocate(x.Shape);
        Launch("relu_f32", Grid(x.Length), 256, 0, [T(x).Ptr, y.Ptr, I(x.Length)]);
        return y;
    }

    public DeviceTensor Add(DeviceTensor a, DeviceTensor b)
    {
        OpContracts.Add(a, b);
        var y = (CudaTensor)Allocate(a.Shape);
        Launch("add_f32", Grid(a.Length), 256, 0, [T(a).Ptr, T(b).Ptr, y.Ptr, I(a.Length)]);
        return y;
    }
}
