using ILGPU;
using ILGPU.Runtime;
using PatchCore.Backends;

namespace PatchCore.Gpu;

/// <summary>
/// A DeviceTensor of the ILGPU backend: one dense float buffer in accelerator memory. Kernels take
/// <see cref="View"/>; the host sees the data only through <see cref="GpuBackend.Download"/>.
/// </summary>
public sealed class GpuTensor : DeviceTensor
{
    internal GpuTensor(MemoryBuffer1D<float, Stride1D.Dense> buffer, int[] shape) : base(shape)
    {
        Buffer = buffer;
    }

    internal MemoryBuffer1D<float, Stride1D.Dense> Buffer { get; }

    /// <summary>The tensor's elements (the buffer may be one element longer for empty tensors).</summary>
    internal ArrayView<float> View => Buffer.View.SubView(0, Length);

    public override void Dispose()
    {
        Buffer.Dispose();
        base.Dispose();
    }
}
