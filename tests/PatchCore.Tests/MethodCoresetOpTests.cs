using PatchCore.Backends;
using PatchCore.Backends.Cpu;
using PatchCore.Backends.Reference;

namespace PatchCore.Tests;

/// <summary>The fast greedy coreset must select exactly what the plain loop selects.</summary>
public class MethodCoresetOpTests
{
    readonly CpuBackend cpu = new(threads: 2);

    /// <summary>Points around a few Gaussian centres, each cluster on a low-dimensional subspace (like real features).</summary>
    internal static float[] Clustered(int n, int d, int clusters, int seed)
    {
        var rng = new Random(seed);
        var centres = new float[clusters * d];
        for (int i = 0; i < centres.Length; i++) centres[i] = (float)(rng.NextDouble() * 20 - 10);
        int sub = Math.Min(6, d);
        var basis = new float[clusters * sub * d];
        for (int i = 0; i < basis.Length; i++) basis[i] = (float)(rng.NextDouble() * 2 - 1);
        var x = new float[n * d];
        for (int i = 0; i < n; i++)
        {
            int c = rng.Next(clusters);
            double spread = 0.3 + 2 * rng.NextDouble();
            for (int t = 0; t < d; t++) x[i * d + t] = centres[c * d + t] + (float)(0.05 * (rng.NextDouble() - 0.5));
            for (int s = 0; s < sub; s++)
            {
                float coef = (float)((rng.NextDouble() * 2 - 1) * spread);
                for (int t = 0; t < d; t++) x[i * d + t] += coef * basis[(c * sub + s) * d + t];
            }
        }
        return x;
    }

    [Theory]
    [InlineData(3000, 128, 12, 300)]
    [InlineData(2500, 37, 5, 600)]
    [InlineData(4000, 16, 40, 2000)]
    public void BoundedSelectionEqualsPlainLoop(int n, int d, int clusters, int count)
    {
        var x = Clustered(n, d, clusters, n + d);
        using var t = cpu.Upload(x, n, d);
        int[] starts = [5, 17, 123, 999, 2, 40, 77, 1500, 11, 8];
        var plain = cpu.GreedyCoresetPlain(t, count, starts);
        var fast = cpu.GreedyCoreset(t, count, starts);
        Assert.Equal(plain, fast);
        Assert.Equal(count, fast.Distinct().Count()); // farthest points are distinct until distances reach 0
    }

    /// <summary>
    /// The streaming phase hands over to the clustered one at an adaptive point; force every kind of switch
    /// point (right after the first centre, a few iterations in, never) so each hand-over path is compared.
    /// count > 512 also exercises the periodic re-layout of the rows.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(9)]
    [InlineData(100)]
    [InlineData(700)]
    public void BoundedSelectionEqualsPlainLoopAtEverySwitchPoint(int streamIterations)
    {
        int n = 3000, d = 32, count = 700;
        var x = Clustered(n, d, 20, 11);
        using var t = cpu.Upload(x, n, d);
        int[] starts = [3, 300, 2999];
        var plain = cpu.GreedyCoresetPlain(t, count, starts);
        Assert.Equal(plain, cpu.GreedyCoresetBounded(t, count, starts, streamIterations));
    }

    /// <summary>
    /// Not only the selection: every row's final d_i must be the plain loop's bit for bit, whatever the switch
    /// point (never clustered, clustered from the start, adaptive, and past a re-layout), since the skips may
    /// only leave out distances that could not have lowered d_i.
    /// </summary>
    [Theory]
    [InlineData(700)]
    [InlineData(1)]
    [InlineData(-1)]
    public void BoundedDistancesEqualPlainLoopBitForBit(int streamIterations)
    {
        int n = 3000, d = 32, count = 700;
        var x = Clustered(n, d, 20, 11);
        using var t = cpu.Upload(x, n, d);
        int[] starts = [3, 300, 2999];
        var plain = cpu.GreedyCoresetPlain(t, count, starts, out var plainDistances);
        var run = cpu.RunBoundedCoreset(t, count, starts, streamIterations);
        Assert.Equal(plain, run.Selected);
        var distances = run.RowDistances();
        Assert.Equal(n, distances.Length);
        for (int i = 0; i < n; i++)
            Assert.True(BitConverter.SingleToInt32Bits(plainDistances[i]) == BitConverter.SingleToInt32Bits(distances[i]),
                $"row {i}: plain d_i {plainDistances[i]:R}, bounded {distances[i]:R}");
        // The features are the caller's: the re-layout must never write into them.
        var after = new float[n * d];
        cpu.Download(t, after);
        Assert.Equal(x, after);
    }

    [Fact]
    public void BoundedSelectionEqualsPlainLoopWithTies()
    {
        // A small integer lattice with every point repeated 3 times: distances tie everywhere, and the last
        // selections happen at distance 0 (duplicates), where the lowest index must win.
        int d = 4, side = 5, copies = 3;
        int distinct = side * side * side, n = distinct * copies;
        var x = new float[n * d];
        for (int c = 0; c < copies; c++)
            for (int p = 0; p < distinct; p++)
            {
                int row = c * distinct + p;
                x[row * d] = p % side; x[row * d + 1] = p / side % side; x[row * d + 2] = p / (side * side); x[row * d + 3] = 1;
            }
        using var t = cpu.Upload(x, n, d);
        int[] starts = [0, 62, 124];
        int count = distinct + 40;
        var plain = cpu.GreedyCoresetPlain(t, count, starts);
        var fast = cpu.GreedyCoreset(t, count, starts);
        Assert.Equal(plain, fast);
        // The reference (double) agrees here too: lattice distances are sqrt of small integers.
        var reference = new ReferenceBackend();
        using var rt = reference.Upload(x, n, d);
        Assert.Equal(reference.GreedyCoreset(rt, count, starts), fast);
    }

    [Fact]
    public void PlainLoopMatchesReference()
    {
        int n = 600, d = 24, count = 60;
        var x = Clustered(n, d, 4, 3);
        var reference = new ReferenceBackend();
        using var rt = reference.Upload(x, n, d);
        using var t = cpu.Upload(x, n, d);
        int[] starts = [1, 2, 3];
        Assert.Equal(reference.GreedyCoreset(rt, count, starts), cpu.GreedyCoresetPlain(t, count, starts));
    }
}
