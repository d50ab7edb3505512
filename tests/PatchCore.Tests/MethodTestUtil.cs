using PatchCore.Backends;

namespace PatchCore.Tests;

/// <summary>Random inputs and comparisons for the method ops' fast-vs-reference tests.</summary>
internal static class MethodTestUtil
{
    public static float[] Random(int length, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var a = new float[length];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }

    public static float[] Download(IBackend backend, DeviceTensor t)
    {
        var a = new float[t.Length];
        Array.Fill(a, float.NaN); // poisoned: anything the download does not overwrite fails the comparison
        backend.Download(t, a);
        return a;
    }

    /// <summary>|actual − expected| ≤ rel · max(|expected|_∞ over the whole output, tiny); NaN fails.</summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rel, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = 1e-30;
        foreach (float v in expected) scale = Math.Max(scale, Math.Abs(v));
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.False(float.IsNaN(actual[i]) || float.IsNaN(expected[i]), $"{what}: NaN at {i}");
            double err = Math.Abs((double)actual[i] - expected[i]);
            Assert.True(err <= rel * scale, $"{what}: element {i} expected {expected[i]} got {actual[i]} (scale {scale})");
        }
    }
}
