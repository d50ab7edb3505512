namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    /// <summary>The plain loop of ALGORITHM.md "Coreset", in double: O(N · count · d).</summary>
    public int[] GreedyCoreset(DeviceTensor features, int count, ReadOnlySpan<int> starts)
    {
        var f = HostMemory.AsHost(features);
        OpContracts.GreedyCoreset(f, count, starts);
        int n = f[0], d = f[1];
        var x = f.Data;
        var min = new double[n];
        for (int i = 0; i < n; i++)
        {
            double s = 0;
            foreach (int st in starts) s += Math.Sqrt(SquaredDistance(x, (long)i * d, x, (long)st * d, d));
            min[i] = s / starts.Length;
        }
        var selected = new int[count];
        for (int it = 0; it < count; it++)
        {
            int best = 0;
            for (int i = 1; i < n; i++) if (min[i] > min[best]) best = i; // strict: lowest index wins ties
            selected[it] = best;
            for (int i = 0; i < n; i++)
                min[i] = Math.Min(min[i], Math.Sqrt(SquaredDistance(x, (long)i * d, x, (long)best * d, d)));
        }
        return selected;
    }
}
