namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public DeviceTensor MatMul(DeviceTensor a, DeviceTensor b)
    {
        var (m, k, n) = OpContracts.MatMul(a, b);
        var x = HostMemory.AsHost(a).Data;
        var y = HostMemory.AsHost(b).Data;
        var c = HostMemory.Allocate([m, n]);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int t = 0; t < k; t++) s += (double)x[(long)i * k + t] * y[(long)t * n + j];
                c.Data[(long)i * n + j] = (float)s;
            }
        return c;
    }
}
