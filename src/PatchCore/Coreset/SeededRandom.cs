namespace PatchCore.Coreset;

/// <summary>
/// SplitMix64 with Box–Muller Gaussians: a fully specified generator, so every backend, platform and .NET
/// version draws the same projection matrix and starting rows for a seed (System.Random's algorithm is not
/// specified and has changed between versions).
/// </summary>
public sealed class SeededRandom(ulong seed)
{
    ulong state = seed;
    double spare;
    bool hasSpare;

    public ulong NextUInt64()
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n) (Lemire's multiply-shift on the high 32 bits; bias below 2^-32·n).</summary>
    public int NextInt(int n) => (int)(((NextUInt64() >> 32) * (ulong)n) >> 32);

    /// <summary>Standard normal by Box–Muller (both values used).</summary>
    public double NextGaussian()
    {
        if (hasSpare) { hasSpare = false; return spare; }
        double u1 = 1.0 - NextDouble(); // (0, 1]: log is finite
        double u2 = NextDouble();
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        spare = r * Math.Sin(2 * Math.PI * u2);
        hasSpare = true;
        return r * Math.Cos(2 * Math.PI * u2);
    }
}
