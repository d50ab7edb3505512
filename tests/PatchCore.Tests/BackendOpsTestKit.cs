using PatchCore.Backends;

namespace PatchCore.Tests;

/// <summary>Shared pieces of the fast-vs-reference op tests: random inputs, poisoned outputs, the error measure.</summary>
public static class BackendOpsTestKit
{
    public static float[] RandomData(Random rng, long n, double scale = 1)
    {
        var v = new float[n];
        for (long i = 0; i < n; i++) v[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return v;
    }

    public static float[] Read(IBackend b, DeviceTensor t)
    {
        var v = new float[t.Length];
        b.Download(t, v);
        return v;
    }

    /// <summary>max|a − b| / max|ref|; NaN anywhere (e.g. a poisoned element never written) gives +inf.</summary>
    public static double RelativeError(float[] actual, float[] reference)
    {
        Assert.Equal(reference.Length, actual.Length);
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            if (float.IsNaN(actual[i]) || float.IsNaN(reference[i])) return double.PositiveInfinity;
            maxDiff = Math.Max(maxDiff, Math.Abs((double)actual[i] - reference[i]));
            maxRef = Math.Max(maxRef, Math.Abs((double)reference[i]));
        }
        return maxRef == 0 ? maxDiff : maxDiff / maxRef;
    }

    public static void AssertClose(float[] actual, float[] reference, double tolerance, string what)
    {
        double e = RelativeError(actual, reference);
        Assert.True(e <= tolerance, $"{what}: relative error {e:E3} > {tolerance:E1}");
    }

    /// <summary>Runs body with every op output allocated on this thread starting as NaN.</summary>
    public static T Poisoned<T>(Func<T> body)
    {
        HostMemory.PoisonAllocations = true;
        try { return body(); }
        finally { HostMemory.PoisonAllocations = false; }
    }
}
