using PatchCore.Backends;
using PatchCore.Backends.Cpu;
using PatchCore.Backends.Reference;
using static PatchCore.Tests.MethodTestUtil;

namespace PatchCore.Tests;

/// <summary>Every fast CPU method op against the reference backend on fresh random inputs. Tolerance 1e-4 of
/// the output's largest magnitude (distances: of the largest distance).</summary>
public class MethodOpsTests
{
    const double Tol = 1e-4;
    readonly ReferenceBackend reference = new();
    readonly CpuBackend cpu = new(threads: 2);

    [Theory]
    [InlineData(1, 5, 7, 9, 9, 5, 4, 8, 8, 3)]      // odd grid, C2=5, C3=7 → bins straddle channels (45→8, 63→8)
    [InlineData(2, 6, 6, 11, 10, 13, 5, 5, 16, 12)] // upsampling non-integer ratio, 2·16 → 12 straddles too
    [InlineData(1, 4, 3, 8, 8, 8, 4, 4, 36, 36)]    // PretrainDim > 9·C (bins repeat inputs)
    [InlineData(1, 3, 2, 6, 6, 4, 3, 3, 7, 5)]      // 5x5 patches
    public void OfficialAggregationMatchesReference(int n, int c2, int c3, int h, int w, int h3unused, int h3, int w3, int pre, int target)
    {
        _ = h3unused;
        int patch = target == 5 ? 5 : 3;
        var spec = new AggregationSpec(AggregationMode.Official, patch, pre, target);
        var l2 = Random(n * c2 * h * w, 1 + n + c2);
        var l3 = Random(n * c3 * h3 * w3, 2 + c3);
        using var r2 = reference.Upload(l2, n, c2, h, w); using var r3 = reference.Upload(l3, n, c3, h3, w3);
        using var f2 = cpu.Upload(l2, n, c2, h, w); using var f3 = cpu.Upload(l3, n, c3, h3, w3);
        using var expected = reference.AggregatePatchFeatures(r2, r3, spec);
        using var actual = cpu.AggregatePatchFeatures(f2, f3, spec);
        Assert.Equal([n * h * w, target], actual.Shape);
        AssertClose(Download(reference, expected), Download(cpu, actual), Tol, "official aggregation");
    }

    [Fact]
    public void OfficialAggregationOfOneChannelIsItsUnfoldedMean()
    {
        // One channel, 3x3 map, PretrainDim 1 and TargetDim 1: every output is (mean of the cell's zero-padded
        // 3x3 window of layer2 + bilinear(layer3 window mean)) / 2. With layer3 = layer2 (same size, so the
        // upsampling is the identity) each output equals the window mean. Centre cell of 1..9: 45/9 = 5;
        // corner (0,0): (1+2+4+5)/9 = 4/3.
        float[] m = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        var spec = new AggregationSpec(AggregationMode.Official, 3, 1, 1);
        foreach (IBackend b in new IBackend[] { reference, cpu })
        {
            using var l2 = b.Upload(m, 1, 1, 3, 3); using var l3 = b.Upload(m, 1, 1, 3, 3);
            using var f = b.AggregatePatchFeatures(l2, l3, spec);
            var o = Download(b, f);
            Assert.Equal(5f, o[4], 5);
            Assert.Equal(4f / 3, o[0], 5);
        }
    }

    [Fact]
    public void OfficialAggregationMatchesTorch()
    {
        // The official PatchCore embedding written literally in torch (unfold 3x3 pad 1 → [N,C,3,3,h,w];
        // layer3 planes F.interpolate bilinear align_corners=False to layer2's grid; each cell's C*9 vector
        // F.adaptive_avg_pool1d to 8; stack [2,8]; pool to 6). Script (/usr/bin/python3):
        //   n,c2,h,w,c3,h3,w3,pre,tgt = 1,5,5,6,7,3,4,8,6
        //   l2 = torch.tensor([((i*37)%23)/7.0-1.5 for i in range(n*c2*h*w)]).reshape(n,c2,h,w)
        //   l3 = torch.tensor([((i*53)%29)/9.0-1.4 for i in range(n*c3*h3*w3)]).reshape(n,c3,h3,w3)
        //   unfold = lambda x: torch.nn.Unfold(3, 1, 1, 1)(x).reshape(x.shape[0], x.shape[1], 3, 3, x.shape[2], x.shape[3])
        //   u2 = unfold(l2); u3 = F.interpolate(unfold(l3).reshape(-1,h3,w3).unsqueeze(1), size=(h,w),
        //        mode="bilinear", align_corners=False).squeeze(1).reshape(n,c3,3,3,h,w)
        //   f2 = u2.permute(0,4,5,1,2,3).reshape(-1,c2*9); f3 = u3.permute(0,4,5,1,2,3).reshape(-1,c3*9)
        //   p = lambda f, d: F.adaptive_avg_pool1d(f.reshape(len(f),1,-1), d).squeeze(1)
        //   out = p(torch.stack([p(f2,pre), p(f3,pre)], 1).reshape(len(f2),-1), tgt)
        //   print(out[0,0], out[7,3], out[13,5], out[29,2], out[17,1])
        int n = 1, c2 = 5, h = 5, w = 6, c3 = 7, h3 = 3, w3 = 4;
        var l2 = new float[n * c2 * h * w];
        for (int i = 0; i < l2.Length; i++) l2[i] = (float)((i * 37 % 23) / 7.0 - 1.5);
        var l3 = new float[n * c3 * h3 * w3];
        for (int i = 0; i < l3.Length; i++) l3[i] = (float)((i * 53 % 29) / 9.0 - 1.4);
        (int Row, int Col, float Value)[] expected =
            [(0, 0, 0.0912698283791542f), (7, 3, 0.10787037014961243f), (13, 5, 0.12381687015295029f),
             (29, 2, -0.026643993332982063f), (17, 1, 0.03996598720550537f)];
        var spec = new AggregationSpec(AggregationMode.Official, 3, 8, 6);
        foreach (IBackend b in new IBackend[] { reference, cpu })
        {
            using var t2 = b.Upload(l2, n, c2, h, w); using var t3 = b.Upload(l3, n, c3, h3, w3);
            using var f = b.AggregatePatchFeatures(t2, t3, spec);
            var o = Download(b, f);
            foreach (var (row, col, value) in expected)
                Assert.True(Math.Abs(o[row * 6 + col] - value) < 1e-6, $"{b.Name} [{row},{col}] = {o[row * 6 + col]}, torch {value}");
        }
    }

    [Fact]
    public void AnomalibAggregationMatchesReference()
    {
        var spec = new AggregationSpec(AggregationMode.Anomalib);
        int n = 2, c2 = 5, c3 = 7, h = 9, w = 7, h3 = 5, w3 = 4;
        var l2 = Random(n * c2 * h * w, 11);
        var l3 = Random(n * c3 * h3 * w3, 12);
        using var r2 = reference.Upload(l2, n, c2, h, w); using var r3 = reference.Upload(l3, n, c3, h3, w3);
        using var f2 = cpu.Upload(l2, n, c2, h, w); using var f3 = cpu.Upload(l3, n, c3, h3, w3);
        using var expected = reference.AggregatePatchFeatures(r2, r3, spec);
        using var actual = cpu.AggregatePatchFeatures(f2, f3, spec);
        Assert.Equal([n * h * w, c2 + c3], actual.Shape);
        AssertClose(Download(reference, expected), Download(cpu, actual), Tol, "anomalib aggregation");
    }

    [Theory]
    [InlineData(37, 70, 13)]
    [InlineData(130, 1024, 128)]
    [InlineData(5, 3, 2)]
    public void MatMulMatchesReference(int m, int k, int n)
    {
        var a = Random(m * k, m); var b = Random(k * n, k);
        using var ra = reference.Upload(a, m, k); using var rb = reference.Upload(b, k, n);
        using var fa = cpu.Upload(a, m, k); using var fb = cpu.Upload(b, k, n);
        using var e = reference.MatMul(ra, rb);
        using var c = cpu.MatMul(fa, fb);
        AssertClose(Download(reference, e), Download(cpu, c), Tol, "matmul");
    }

    [Theory]
    [InlineData(21, 35, 19)]
    [InlineData(70, 67, 128)]
    public void PairwiseDistancesMatchReference(int m, int kk, int d)
    {
        var q = Random(m * d, 3 + d); var x = Random(kk * d, 4 + d);
        using var rq = reference.Upload(q, m, d); using var rx = reference.Upload(x, kk, d);
        using var fq = cpu.Upload(q, m, d); using var fx = cpu.Upload(x, kk, d);
        using var e = reference.PairwiseSquaredDistances(rq, rx);
        using var c = cpu.PairwiseSquaredDistances(fq, fx);
        AssertClose(Download(reference, e), Download(cpu, c), Tol, "pairwise distances");
    }

    [Theory]
    [InlineData(67, 203, 37, 1)]
    [InlineData(130, 301, 64, 5)]
    [InlineData(3, 9, 17, 9)]
    [InlineData(261, 97, 600, 3)] // partial query tile and bank panel, three depth blocks
    public void NearestNeighboursMatchReference(int m, int kk, int d, int k)
    {
        var q = Random(m * d, 5 + k); var x = Random(kk * d, 6 + k);
        var (ed, ei) = Knn(reference, q, x, m, kk, d, k);
        var (cd, ci) = Knn(cpu, q, x, m, kk, d, k);
        AssertClose(ed, cd, Tol, "k-NN distances");
        // An index may differ only where two database rows are equally near to within the tolerance.
        using var rq = reference.Upload(q, m, d); using var rx = reference.Upload(x, kk, d);
        using var all = reference.PairwiseSquaredDistances(rq, rx);
        var full = Download(reference, all);
        float scale = full.Max();
        for (int i = 0; i < m * k; i++)
        {
            Assert.InRange(ci[i], 0, kk - 1);
            if (ci[i] != ei[i])
                Assert.True(Math.Abs(full[(i / k) * kk + ci[i]] - ed[i]) <= Tol * scale, $"k-NN index {i}: {ci[i]} vs {ei[i]}");
        }
    }

    /// <summary>
    /// Features share a large positive mean (ReLU maps, average-pooled). |q|² + |x|² − 2 q·x on raw rows would lose
    /// about 1e-3 of these distances to cancellation (norms 600x the distances); centred on the bank mean it must not.
    /// </summary>
    [Fact]
    public void NearestNeighbourDistancesStayAccurateUnderALargeCommonOffset()
    {
        int m = 40, kk = 300, d = 256;
        var rng = new Random(12);
        float[] Rows(int n)
        {
            var a = new float[n * d];
            for (int i = 0; i < a.Length; i++) a[i] = 25f + (float)(rng.NextDouble() * 2 - 1);
            return a;
        }
        var q = Rows(m); var x = Rows(kk);
        var (ed, _) = Knn(reference, q, x, m, kk, d, 1);
        var (cd, _) = Knn(cpu, q, x, m, kk, d, 1);
        AssertClose(ed, cd, 1e-5, "k-NN distances under a common offset");
    }

    [Fact]
    public void NearestNeighboursBreakTiesTowardsTheLowerIndex()
    {
        // Small integer coordinates: every distance is exact in float, so ties are exact. Database rows repeat
        // (each row appears three times), and the query set includes database rows themselves.
        int d = 5, distinct = 7, kk = distinct * 3, m = 12, k = 4;
        var rng = new Random(9);
        var x = new float[kk * d];
        for (int j = 0; j < distinct; j++)
            for (int t = 0; t < d; t++) x[j * d + t] = x[(j + distinct) * d + t] = x[(j + 2 * distinct) * d + t] = rng.Next(-3, 4);
        var q = new float[m * d];
        for (int i = 0; i < m * d; i++) q[i] = i < 3 * d ? x[i] : rng.Next(-3, 4);
        var (ed, ei) = Knn(reference, q, x, m, kk, d, k);
        var (cd, ci) = Knn(cpu, q, x, m, kk, d, k);
        Assert.Equal(ei, ci);
        Assert.Equal(ed, cd);
        // Query 0 is database row 0: its nearest are rows 0, 7, 14 at distance 0, in index order.
        Assert.Equal([0, 7, 14], ci[..3]);
        for (int i = 0; i < m; i++)
            for (int t = 1; t < k; t++)
            {
                Assert.True(cd[i * k + t - 1] <= cd[i * k + t]);
                if (cd[i * k + t - 1] == cd[i * k + t]) Assert.True(ci[i * k + t - 1] < ci[i * k + t]);
            }
    }

    static (float[] D, int[] I) Knn(IBackend b, float[] q, float[] x, int m, int kk, int d, int k)
    {
        using var tq = b.Upload(q, m, d); using var tx = b.Upload(x, kk, d);
        var dist = new float[m * k]; Array.Fill(dist, float.NaN);
        var idx = new int[m * k]; Array.Fill(idx, -7);
        b.NearestNeighbours(tq, tx, k, dist, idx);
        return (dist, idx);
    }

    [Theory]
    [InlineData(2, 5, 7, 37, 41, 4f)]
    [InlineData(1, 28, 28, 64, 64, 4f)]   // radius 16 > a quarter of the map: reflection reaches far
    [InlineData(1, 3, 2, 9, 5, 2.5f)]     // radius 10 > map size: reflection wraps more than once
    [InlineData(1, 4, 4, 11, 13, 0f)]     // no blur
    public void AnomalyMapsMatchDirect2D(int n, int gh, int gw, int outH, int outW, float sigma)
    {
        var s = Random(n * gh * gw, gh * 31 + gw, 5f);
        using var rs = reference.Upload(s, n, gh, gw);
        using var fs = cpu.Upload(s, n, gh, gw);
        using var e = reference.AnomalyMaps(rs, outH, outW, sigma);
        using var c = cpu.AnomalyMaps(fs, outH, outW, sigma);
        Assert.Equal([n, outH, outW], c.Shape);
        AssertClose(Download(reference, e), Download(cpu, c), Tol, "anomaly maps");
    }

    [Fact]
    public void AnomalyMapsMatchScipy()
    {
        // /usr/bin/python3:
        //   import numpy as np, torch, torch.nn.functional as F, scipy.ndimage as nd
        //   g = np.array([[0,1,4],[2,9,3]], np.float32)
        //   up = F.interpolate(torch.tensor(g)[None,None], size=(5,7), mode="bilinear", align_corners=False)[0,0].numpy()
        //   m = nd.gaussian_filter(up, sigma=1.0); print(m[0,0], m[2,3], m[4,6], m[1,5])
        float[] g = [0, 1, 4, 2, 9, 3];
        float[] expected = [ScipyCorner, ScipyCentre, ScipyLast, ScipyOther];
        foreach (IBackend b in new IBackend[] { reference, cpu })
        {
            using var t = b.Upload(g, 1, 2, 3);
            using var m = b.AnomalyMaps(t, 5, 7, 1f);
            var o = Download(b, m);
            float[] got = [o[0], o[2 * 7 + 3], o[4 * 7 + 6], o[1 * 7 + 5]];
            AssertClose(expected, got, 1e-5, b.Name + " vs scipy");
        }
    }

    const float ScipyCorner = 0.23700762f, ScipyCentre = 4.1499977f, ScipyLast = 3.4992545f, ScipyOther = 3.5087376f;
}
