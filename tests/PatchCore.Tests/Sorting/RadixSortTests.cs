using PatchCore.Tensors;

namespace PatchCore.Tests.Sorting;

/// <summary>The radix sorts order floats exactly as Array.Sort does (−0 and +0 as one value), flags ride along.</summary>
public class RadixSortTests
{
    static float[] Values(Random rng, int n)
    {
        float[] special = [0f, -0f, float.Epsilon, -float.Epsilon, float.MaxValue, float.MinValue,
            float.PositiveInfinity, float.NegativeInfinity, 1f, -1f, 1e-38f, -1e-38f];
        var v = new float[n];
        for (int i = 0; i < n; i++)
            v[i] = (i % 7) switch
            {
                0 => special[rng.Next(special.Length)],
                1 => v[rng.Next(Math.Max(1, i))], // duplicates
                2 => (float)rng.NextDouble(),
                3 => -(float)(rng.NextDouble() * 1e6),
                _ => BitConverter.Int32BitsToSingle(rng.Next() & 0x7F7F_FFFF) * (rng.Next(2) == 0 ? 1 : -1), // any finite magnitude
            };
        return v;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2049)]
    [InlineData(100_000)]
    public void SortedKeysOrderLikeArraySort(int n)
    {
        int seed = Environment.TickCount;
        var rng = new Random(seed);
        var v = Values(rng, n);
        var expected = (float[])v.Clone();
        Array.Sort(expected);
        var keys = RadixSort.SortedKeys(v);
        Assert.Equal(n, keys.Length);
        for (int i = 0; i < n; i++)
        {
            float got = RadixSort.FromOrdered(keys[i]);
            Assert.True(got.Equals(expected[i]) || (got == 0 && expected[i] == 0), $"seed {seed}: [{i}] {got} vs {expected[i]}");
        }
    }

    [Fact]
    public void FlagsRideAlongWithTheirValues()
    {
        int seed = Environment.TickCount;
        var rng = new Random(seed);
        var v = Values(rng, 50_000);
        var flags = new bool[v.Length];
        for (int i = 0; i < flags.Length; i++) flags[i] = rng.Next(3) == 0;
        var sorted = RadixSort.SortedWithFlags(v, flags);
        // Count, per distinct value, the flags set: the same multiset before and after.
        var before = new Dictionary<float, (int All, int Set)>();
        for (int i = 0; i < v.Length; i++)
        {
            float key = v[i] == 0 ? 0 : v[i];
            before.TryGetValue(key, out var c);
            before[key] = (c.All + 1, c.Set + (flags[i] ? 1 : 0));
        }
        var after = new Dictionary<float, (int All, int Set)>();
        float previous = float.NegativeInfinity;
        foreach (ulong e in sorted)
        {
            float key = RadixSort.FromOrdered((uint)(e >> 1));
            Assert.True(key >= previous, $"seed {seed}: not ascending at {key} after {previous}");
            previous = key;
            after.TryGetValue(key, out var c);
            after[key] = (c.All + 1, c.Set + (int)(e & 1));
        }
        Assert.Equal(before.Count, after.Count);
        foreach (var (key, c) in before) Assert.Equal(c, after[key]);
    }
}
