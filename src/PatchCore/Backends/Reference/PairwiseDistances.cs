namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public DeviceTensor PairwiseSquaredDistances(DeviceTensor queries, DeviceTensor database)
    {
        var (m, kk, d) = OpContracts.PairwiseSquaredDistances(queries, database);
        var q = HostMemory.AsHost(queries).Data;
        var x = HostMemory.AsHost(database).Data;
        var r = HostMemory.Allocate([m, kk]);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < kk; j++)
                r.Data[(long)i * kk + j] = (float)SquaredDistance(q, (long)i * d, x, (long)j * d, d);
        return r;
    }

    /// <summary>Direct Σ (a - b)² in double: no cancellation, the truth for the fast |q|²+|x|²-2q·x form.</summary>
    static double SquaredDistance(float[] a, long ao, float[] b, long bo, int d)
    {
        double s = 0;
        for (int t = 0; t < d; t++)
        {
            double diff = (double)a[ao + t] - b[bo + t];
            s += diff * diff;
        }
        return s;
    }
}
