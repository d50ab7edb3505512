namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public DeviceTensor Relu(DeviceTensor x)
    {
        var a = HostMemory.AsHost(x).Span;
        var y = HostMemory.Allocate(x.Shape);
        for (int i = 0; i < a.Length; i++) y.Data[i] = a[i] > 0 ? a[i] : 0f;
        return y;
    }

    public DeviceTensor Add(DeviceTensor a, DeviceTensor b)
    {
        OpContracts.Add(a, b);
        var sa = HostMemory.AsHost(a).Span;
        var sb = HostMemory.AsHost(b).Span;
        var y = HostMemory.Allocate(a.Shape);
        for (int i = 0; i < sa.Length; i++) y.Data[i] = (float)((double)sa[i] + sb[i]);
        return y;
    }
}
