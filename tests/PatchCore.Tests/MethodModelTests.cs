using PatchCore.Backends;
using PatchCore.Backends.Cpu;
using PatchCore.Backends.Reference;
using PatchCore.Coreset;
using PatchCore.Scoring;

namespace PatchCore.Tests;

/// <summary>Model-level pieces: coreset selection (Select) and nearest-neighbour scoring.</summary>
public class MethodModelTests
{
    readonly CpuBackend cpu = new(threads: 2);

    [Fact]
    public void SplitMix64MatchesItsPublishedSequence()
    {
        // SplitMix64 seeded with 0: first output 0xE220A8397B1DCDAF (the reference implementation's test vector).
        Assert.Equal(0xE220A8397B1DCDAFUL, new SeededRandom(0).NextUInt64());
        var g = new SeededRandom(7);
        double sum = 0, sq = 0;
        for (int i = 0; i < 20000; i++) { double v = g.NextGaussian(); sum += v; sq += v * v; }
        Assert.InRange(sum / 20000, -0.05, 0.05);
        Assert.InRange(sq / 20000, 0.95, 1.05);
    }

    [Fact]
    public void SelectIsDeterministicAndCountsLikeTheOfficialCode()
    {
        int n = 1501, d = 200; // d > 128: the projection path
        var x = MethodCoresetOpTests.Clustered(n, d, 6, 5);
        using var t = cpu.Upload(x, n, d);
        var a = ApproximateGreedyCoreset.Select(cpu, t, new CoresetOptions(0.1, Seed: 3));
        var b = ApproximateGreedyCoreset.Select(cpu, t, new CoresetOptions(0.1, Seed: 3));
        var c = ApproximateGreedyCoreset.Select(cpu, t, new CoresetOptions(0.1, Seed: 4));
        Assert.Equal(150, a.Length); // int(1501 · 0.1)
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(150, a.Distinct().Count());
        Assert.All(a, i => Assert.InRange(i, 0, n - 1));
        Assert.Equal(Enumerable.Range(0, n), ApproximateGreedyCoreset.Select(cpu, t, new CoresetOptions(1.0)));
        Assert.Equal(15, ApproximateGreedyCoreset.Select(cpu, t, new CoresetOptions(0.01)).Length); // int(15.01)
    }

    [Fact]
    public void UniformProjectionIsItsOwnDeterministicDraw()
    {
        int n = 1501, d = 200;
        var x = MethodCoresetOpTests.Clustered(n, d, 6, 5);
        using var t = cpu.Upload(x, n, d);
        var u1 = ApproximateGreedyCoreset.Select(cpu, t, new CoresetOptions(0.1, Seed: 3, Projection: CoresetProjection.Uniform));
        var u2 = ApproximateGreedyCoreset.Select(cpu, t, new CoresetOptions(0.1, Seed: 3, Projection: CoresetProjection.Uniform));
        var g = ApproximateGreedyCoreset.Select(cpu, t, new CoresetOptions(0.1, Seed: 3));
        Assert.Equal(u1, u2);
        Assert.NotEqual(u1, g);
        Assert.Equal(150, u1.Distinct().Count());
        // Both projections keep the farthest-point character: the first pick is among the rows farthest
        // (in the full space) from the data's mean, not an arbitrary row.
        var mean = new double[d];
        for (int i = 0; i < n; i++) for (int k = 0; k < d; k++) mean[k] += x[i * d + k] / n;
        var far = Enumerable.Range(0, n).Select(i => (i, dist: Enumerable.Range(0, d).Sum(k => Math.Pow(x[i * d + k] - mean[k], 2))))
            .OrderByDescending(e => e.dist).Take(n / 10).Select(e => e.i).ToHashSet();
        Assert.Contains(u1[0], far);
        Assert.Contains(g[0], far);
    }

    [Fact]
    public void SelectAgreesAcrossBackendsOnSeparatedData()
    {
        // Well-separated small data (no near-ties): the reference and the fast backend pick the same rows.
        int n = 300, d = 8;
        var x = MethodCoresetOpTests.Clustered(n, d, 30, 9);
        var reference = new ReferenceBackend();
        using var rt = reference.Upload(x, n, d);
        using var ct = cpu.Upload(x, n, d);
        var o = new CoresetOptions(0.05, ProjectionDim: 4);
        Assert.Equal(ApproximateGreedyCoreset.Select(reference, rt, o), ApproximateGreedyCoreset.Select(cpu, ct, o));
    }

    // Bank rows (0,0), (3,0), (0,4); one image of 3 patches (0,0), (1,0), (3,4).
    static readonly float[] Bank = [0, 0, 3, 0, 0, 4];
    static readonly float[] Patches = [0, 0, 1, 0, 3, 4];

    [Theory]
    [InlineData("reference")]
    [InlineData("cpu")]
    public void ScoresByHand(string backendName)
    {
        IBackend b = backendName == "cpu" ? cpu : new ReferenceBackend();
        using var bank = b.Upload(Bank, 3, 2);
        using var patches = b.Upload(Patches, 3, 2);
        // Squared L2, k = 1: 0, 1, and (3,4) is 16 from (3,0) and 9 from (0,4) → 9 (row 2). Image: max = 9.
        var s = NearestNeighbourScorer.Score(b, bank, patches, 3, new ScoringOptions());
        Assert.Equal([0f, 1f, 9f], s.Patch);
        Assert.Equal([0, 0, 2], s.Nearest);
        Assert.Equal([9f], s.Image);
        // L2, k = 2: (1,0) is 1 and 2 from its two nearest → 1.5; (3,4): 3 and 4 → 3.5.
        s = NearestNeighbourScorer.Score(b, bank, patches, 3, new ScoringOptions(K: 2, Distance: PatchDistance.L2));
        Assert.Equal(1.5f, s.Patch[1], 5);
        Assert.Equal(3.5f, s.Image[0], 5);
        // Eq. 7, b = 3: m_test = (3,4), m* = (0,4); N_3(m*) = (0,4), (0,0), (3,0) at 0, 4, 5 from m*.
        // Distances from m_test: 3, 5, 4 → w = 1 − e³ / (e³ + e⁵ + e⁴); image score w · 9.
        s = NearestNeighbourScorer.Score(b, bank, patches, 3, new ScoringOptions(Reweight: true, ReweightNeighbours: 3));
        double w = 1 - Math.Exp(3) / (Math.Exp(3) + Math.Exp(5) + Math.Exp(4));
        Assert.Equal(w * 9, s.Image[0], 5);
        Assert.Equal([0f, 1f, 9f], s.Patch); // reweighting changes the image score only
        // b = 1: no reweighting (anomalib returns the max directly).
        s = NearestNeighbourScorer.Score(b, bank, patches, 3, new ScoringOptions(Reweight: true, ReweightNeighbours: 1));
        Assert.Equal([9f], s.Image);
    }

    [Fact]
    public void ScoresSplitPatchesIntoImages()
    {
        var rng = new Random(4);
        int d = 16, rows = 50, per = 7, images = 5;
        var bank = new float[rows * d]; var q = new float[per * images * d];
        for (int i = 0; i < bank.Length; i++) bank[i] = (float)rng.NextDouble();
        for (int i = 0; i < q.Length; i++) q[i] = (float)rng.NextDouble();
        using var tb = cpu.Upload(bank, rows, d); using var tq = cpu.Upload(q, per * images, d);
        var s = NearestNeighbourScorer.Score(cpu, tb, tq, per, new ScoringOptions());
        Assert.Equal(images, s.Image.Length);
        for (int img = 0; img < images; img++)
            Assert.Equal(s.Patch.Skip(img * per).Take(per).Max(), s.Image[img]);
        Assert.Throws<ArgumentException>(() => NearestNeighbourScorer.Score(cpu, tb, tq, 6, new ScoringOptions()));
    }
}
