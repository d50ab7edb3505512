using PatchCore.Backends.Cpu;

namespace PatchCore.Tests;

/// <summary>
/// The coreset's int8 filter may only skip a row when the exact float distance really is at least the running
/// minimum; otherwise the bounded coreset would select differently from the plain loop on some data.
/// </summary>
public unsafe class QuantizedRowsTests
{
    /// <summary>Rows of one of several awkward kinds: a large common offset, outliers, near-duplicates, plain noise.</summary>
    static float[] Rows(string kind, int n, int d, Random rng)
    {
        var x = new float[n * d];
        var basis = new float[d];
        for (int j = 0; j < d; j++) basis[j] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++)
            {
                double g = rng.NextDouble() * 2 - 1;
                x[i * d + j] = kind switch
                {
                    "offset" => (float)(1000 + 50 * basis[j] + g),              // distances ~1e-3 of the norms
                    "outlier" => (float)(g + (j == i % d ? 300 * rng.NextDouble() : 0)), // one huge element per row
                    "near" => (float)(5 * basis[j] + 1e-4 * g),                    // all rows within 1e-4 of each other
                    "duplicate" => 3 * basis[j],                                    // identical rows: distance 0
                    _ => (float)(10 * g),
                };
            }
        return x;
    }

    static (float[] Mean, sbyte[] Q, float[] Scale, float[] Slack) Quantized(float[] x, int n, int d)
    {
        var mean = QuantizedRows.MeanRow(x, n, d);
        var q = new sbyte[n * d];
        var scale = new float[n];
        var slack = new float[n];
        QuantizedRows.Quantize(x, d, mean, 0, n, q, scale, slack);
        return (mean, q, scale, slack);
    }

    [Theory]
    [InlineData("noise", 128)]
    [InlineData("offset", 128)]
    [InlineData("outlier", 128)]
    [InlineData("near", 128)]
    [InlineData("duplicate", 128)]
    [InlineData("noise", 37)]
    [InlineData("offset", 8)]
    [InlineData("noise", 3)]
    public void LowerBoundNeverExceedsTheExactDistance(string kind, int d)
    {
        var rng = new Random(kind[0] * 1000 + kind.Length * 100 + d); // stable: string hashes change per process
        int n = 300;
        var x = Rows(kind, n, d, rng);
        var (mean, q, scale, slack) = Quantized(x, n, d);
        var yc = new float[d];
        fixed (float* px = x, pyc = yc)
        fixed (sbyte* pq = q)
            for (int c = 0; c < 20; c++)
            {
                double norm2 = 0;
                for (int j = 0; j < d; j++) { yc[j] = x[c * d + j] - mean[j]; norm2 += (double)yc[j] * yc[j]; }
                float ycNorm = (float)Math.Sqrt(norm2);
                for (int i = 0; i < n; i++)
                {
                    float exact = CpuBackend.CoresetDistance(px + (long)i * d, px + (long)c * d, d);
                    float lb = QuantizedRows.LowerBound(pq + (long)i * d, scale[i], slack[i], pyc, ycNorm, d);
                    Assert.False(float.IsNaN(lb));
                    Assert.True(lb <= exact, $"{kind} d={d}: row {i} vs centre {c}: lower bound {lb} > exact {exact}");
                    // The skip test must refuse any running minimum above the exact distance.
                    Assert.False(QuantizedRows.ProvesAtLeast(pq + (long)i * d, scale[i], slack[i], pyc, ycNorm, d, MathF.BitIncrement(exact)));
                }
            }
    }

    /// <summary>On spread-out 128-d rows the bound is close to the distance, so the filter does skip rows.</summary>
    [Fact]
    public void LowerBoundIsTightOnSpreadRows()
    {
        var rng = new Random(5);
        int n = 500, d = 128;
        var x = Rows("noise", n, d, rng);
        for (int i = 0; i < x.Length; i++) x[i] += 40; // a common offset, removed by the mean row
        var (mean, q, scale, slack) = Quantized(x, n, d);
        var yc = new float[d];
        int tight = 0, pairs = 0;
        fixed (float* px = x, pyc = yc)
        fixed (sbyte* pq = q)
        {
            double norm2 = 0;
            for (int j = 0; j < d; j++) { yc[j] = x[j] - mean[j]; norm2 += (double)yc[j] * yc[j]; }
            for (int i = 1; i < n; i++, pairs++)
            {
                float exact = CpuBackend.CoresetDistance(px + (long)i * d, px, d);
                float lb = QuantizedRows.LowerBound(pq + (long)i * d, scale[i], slack[i], pyc, (float)Math.Sqrt(norm2), d);
                if (lb >= 0.9f * exact) tight++;
            }
        }
        Assert.True(tight >= 0.95 * pairs, $"only {tight} of {pairs} lower bounds within 10% of the distance");
    }
}
