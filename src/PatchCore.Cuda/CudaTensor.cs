using PatchCore.Backends;

namespace PatchCore.Cuda;

/// <summary>A float32 tensor in device memory of one <see cref="CudaBackend"/>.</summary>
public sealed class CudaTensor : DeviceTensor
{
    readonly CudaBackend _owner;
    internal CudaTensor(CudaBackend owner, ulong ptr, int[] shape) : base(shape)
    {
        _owner = owner;
        Ptr = ptr;
    }

    /// <summary>Device address (CUdeviceptr).</summary>
    public ulong Ptr { get; private set; }
    internal CudaBackend Owner => _owner;

    public override void Dispose()
    {
        if (Ptr != 0) _owner.Free(Ptr);
        Ptr = 0;
        base.Dispose();
    }
}

/// <summary>Raw device memory (indices, scratch) that is not a float tensor.</summary>
internal sealed class DeviceBuffer(CudaBackend owner, ulong ptr, long bytes) : IDisposable
{
    public ulong Ptr { get; private set; } = ptr;
    public long Bytes { get; } = bytes;
    public void Dispose()
    {
        if (Ptr != 0) owner.Free(Ptr);
        Ptr = 0;
    }
}
