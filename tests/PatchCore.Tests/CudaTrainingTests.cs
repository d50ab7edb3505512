using PatchCore.Backbone;
using PatchCore.Backends;
using PatchCore.Backends.Reference;
using PatchCore.Cuda;
using PatchCore.Tests.Training;

namespace PatchCore.Tests;

/// <summary>
/// Every <see cref="ITrainingBackend"/> op of the native CUDA backend on the CUDA emulator (CI) against the
/// reference backend's float64 truth: fresh random inputs (the seed printed; PCNATIVE_TEST_SEED repeats one),
/// every output of both backends allocated NaN-poisoned so an element never written fails, NaN anywhere fails,
/// ≤ 1e-4 relative (max |a − r| / max |r| per output, as the forward ops). Odd shapes on purpose: stride 2,
/// asymmetric pads, 1x1 convs (the direct GEMM path), channel counts not multiples of 32, im2col split per image.
/// Small shapes: the emulator runs a CUDA thread as a fiber. Kernels compiled by the host compiler here; the real
/// NVRTC's sm_90 compile is recorded in docs/BENCHMARKS.md.
/// </summary>
[Collection("cuda emulator")]
public class CudaEmulatorTrainingTests(CudaEmulatorFixture fixture)
{
    public static TheoryData<string> Cases => new(CudaTrainingChecks.CaseNames);

    [Theory]
    [MemberData(nameof(Cases))]
    public void OpMatchesReference(string name) => CudaTrainingChecks.MatchesReference(fixture.Get(), name, GradientCheck.NewSeed());

    /// <summary>The conv's forward and backward with im2col panels built one image at a time (a budget below one
    /// image): the per-chunk offsets of x, dY, dcol and dx must land on the right images, dW summed over chunks.</summary>
    [Theory]
    [InlineData("conv 3x3 stride 2 asymmetric pads")]
    [InlineData("conv 3x3 same, 33 -> 12 channels")]
    public void ConvWithIm2colChunkedPerImage(string name)
    {
        var b = fixture.Get();
        lock (b)
        {
            long budget = b.Im2colBudgetBytes;
            b.Im2colBudgetBytes = 1;
            try { CudaTrainingChecks.MatchesReference(b, name, GradientCheck.NewSeed()); }
            finally { b.Im2colBudgetBytes = budget; }
        }
    }

    [Fact]
    public void ReductionsRepeatBitForBit() => CudaTrainingChecks.RepeatsBitForBit(fixture.Get(), GradientCheck.NewSeed());

    [Fact]
    public void RefusesWrongShapes() => CudaTrainingChecks.RefusesWrongShapes(fixture.Get());

    /// <summary>The whole trained net's backward (layer2 + layer3, ~20 ops chained) on the emulator against the
    /// reference, every parameter gradient read after Backward returned, as the optimiser reads it. Before the fix
    /// in TrainableConvBn.Backward, the BN γ/β gradients were freed as Backward returned (a `using` on the BN
    /// backward's LayerGradients that had handed them to the parameters): the cpu backends never noticed (Dispose
    /// of a small host array is a no-op), the cuda backend passed their address 0 to the optimiser's kernel and
    /// `pcnative finetune --backend cuda` died of SIGSEGV; here the read of such a gradient fails. Tolerance: as
    /// the cpu backend's test of the same composition (TrainableResNetTests), 1e-3 relative per tensor.</summary>
    [Theory]
    [InlineData(BatchNormMode.Frozen)]
    [InlineData(BatchNormMode.Train)]
    public void StageBackwardMatchesTheReference(BatchNormMode mode)
    {
        var cuda = fixture.Get();
        lock (cuda)
        {
            using var reference = new ReferenceBackend();
            cuda.PoisonAllocations = true;
            try { TrainableResNetTests.AssertStageBackwardMatches(reference, cuda, GradientCheck.NewSeed(), mode, 1e-3); }
            finally { cuda.PoisonAllocations = false; }
        }
    }
}

/// <summary>The same checks on a real GPU; they skip with TryCreate's reason where there is none (CI).</summary>
public class CudaGpuTrainingTests
{
    static readonly Lazy<(CudaBackend? Backend, string Reason)> Shared = new(() =>
        CudaBackend.TryCreate(false, out var b, out var r) ? (b, "") : (null, r));

    static CudaBackend Backend()
    {
        var (b, reason) = Shared.Value;
        if (b == null) Assert.Skip($"no CUDA backend: {reason}");
        return b!;
    }

    public static TheoryData<string> Cases => new(CudaTrainingChecks.CaseNames);

    [Theory]
    [MemberData(nameof(Cases))]
    public void OpMatchesReference(string name) => CudaTrainingChecks.MatchesReference(Backend(), name, GradientCheck.NewSeed());

    [Fact]
    public void ReductionsRepeatBitForBit() => CudaTrainingChecks.RepeatsBitForBit(Backend(), GradientCheck.NewSeed());
}

/// <summary>The training-op checks the emulator and GPU classes share. A case builds its inputs from the seed,
/// runs its ops on a backend and reads every output (in-place state included) back; it runs once on the
/// reference and once on the CUDA backend from the same seed, both poisoned, and the outputs are compared.</summary>
public static class CudaTrainingChecks
{
    public const double Tolerance = 1e-4;

    delegate (string Name, float[] Values)[] Case(ITrainingBackend b, Random rng);

    static float[] Rand(Random rng, long n, double scale = 1) => BackendOpsTestKit.RandomData(rng, n, scale);
    static float[] Read(IBackend b, DeviceTensor? t) => t == null ? throw new InvalidOperationException("missing output") : BackendOpsTestKit.Read(b, t);

    static (string, float[])[] Conv(ITrainingBackend b, Random rng, int n, int cin, int cout, int k, int stride, int pt, int pl, int pb, int pr, int h, int w, bool bias)
    {
        var spec = new ConvSpec(cin, cout, k, k, stride, pt, pl, pb, pr);
        int oh = spec.OutH(h), ow = spec.OutW(w);
        using var x = b.Upload(Rand(rng, (long)n * cin * h * w), n, cin, h, w);
        using var wt = b.Upload(Rand(rng, spec.WeightLength, 0.3), cout, cin, k, k);
        using var bt = b.Upload(Rand(rng, cout), cout);
        using var dy = b.Upload(Rand(rng, (long)n * cout * oh * ow), n, cout, oh, ow);
        using var y = b.Conv2dForward(x, wt, bias ? bt : null, spec);
        using var g = b.Conv2dBackward(dy, x, wt, spec, inputGradient: true, biasGradient: bias);
        using var gw = b.Conv2dBackward(dy, x, wt, spec, inputGradient: false, biasGradient: false);
        if (gw.Input != null || gw.Bias != null) throw new InvalidOperationException("conv gradients that were not asked for");
        var outs = new List<(string, float[])> { ("forward", Read(b, y)), ("dx", Read(b, g.Input)), ("dW", Read(b, g.Weight)), ("dW without dx", Read(b, gw.Weight)) };
        if (bias) outs.Add(("db", Read(b, g.Bias)));
        return outs.ToArray();
    }

    /// <summary>h = w = 0: x is [N, C] (BatchNorm1d, as the contrastive projection head uses it).</summary>
    static (string, float[])[] BatchNorm(ITrainingBackend b, Random rng, int n, int c, int h, int w)
    {
        int[] shape = h == 0 ? [n, c] : [n, c, h, w];
        int cells = h == 0 ? 1 : h * w;
        // An offset and a scale per channel, as real activations have: the mean terms of dx then matter.
        var xv = Rand(rng, (long)n * c * cells, 2);
        for (int i = 0; i < xv.Length; i++) xv[i] += (i / cells % c) * 0.5f - 1f;
        using var x = b.Upload(xv, shape);
        using var gamma = b.Upload(Rand(rng, c), c);
        using var beta = b.Upload(Rand(rng, c), c);
        using var rm = b.Upload(Rand(rng, c), c);
        var rvv = Rand(rng, c);
        for (int i = 0; i < c; i++) rvv[i] = 0.5f + Math.Abs(rvv[i]);
        using var rv = b.Upload(rvv, c);
        using var dy = b.Upload(Rand(rng, xv.Length), shape);
        using var frozen = b.BatchNorm2dFrozenForward(x, gamma, beta, rm, rv, 1e-5);
        using var fg = b.BatchNorm2dFrozenBackward(dy, x, gamma, rm, rv, 1e-5);
        using var bn = b.BatchNorm2dTrainForward(x, gamma, beta, rm, rv, 0.1, 1e-5);
        using var tg = b.BatchNorm2dTrainBackward(dy, x, gamma, bn.SavedMean, bn.SavedInvStd);
        return
        [
            ("frozen forward", Read(b, frozen)), ("frozen dx", Read(b, fg.Input)), ("frozen dγ", Read(b, fg.Weight)), ("frozen dβ", Read(b, fg.Bias)),
            ("train forward", Read(b, bn.Output)), ("saved mean", Read(b, bn.SavedMean)), ("saved 1/std", Read(b, bn.SavedInvStd)),
            ("running mean (in place)", Read(b, rm)), ("running var (in place)", Read(b, rv)),
            ("train dx", Read(b, tg.Input)), ("train dγ", Read(b, tg.Weight)), ("train dβ", Read(b, tg.Bias)),
        ];
    }

    static (string, float[])[] MaxPool(ITrainingBackend b, Random rng, int n, int c, int h, int w, PoolSpec pool, bool ties)
    {
        var xv = Rand(rng, (long)n * c * h * w);
        // Few distinct values: many windows with a tied maximum, which must go to the first cell in row-major order.
        if (ties) for (int i = 0; i < xv.Length; i++) xv[i] = MathF.Round(xv[i] * 2);
        using var x = b.Upload(xv, n, c, h, w);
        int oh = pool.OutH(h), ow = pool.OutW(w);
        using var dy = b.Upload(Rand(rng, (long)n * c * oh * ow), n, c, oh, ow);
        using var dx = b.MaxPool2dBackward(dy, x, pool);
        return [("dx", Read(b, dx))];
    }

    static (string, float[])[] Linear(ITrainingBackend b, Random rng, int n, int inF, int outF, bool bias)
    {
        using var x = b.Upload(Rand(rng, (long)n * inF), n, inF);
        using var wt = b.Upload(Rand(rng, (long)outF * inF, 0.3), outF, inF);
        using var bt = b.Upload(Rand(rng, outF), outF);
        using var dy = b.Upload(Rand(rng, (long)n * outF), n, outF);
        using var y = b.LinearForward(x, wt, bias ? bt : null);
        using var g = b.LinearBackward(dy, x, wt, inputGradient: true, biasGradient: bias);
        var outs = new List<(string, float[])> { ("forward", Read(b, y)), ("dx", Read(b, g.Input)), ("dW", Read(b, g.Weight)) };
        if (bias) outs.Add(("db", Read(b, g.Bias)));
        return outs.ToArray();
    }

    static (string, float[])[] L2Normalize(ITrainingBackend b, Random rng, int rows, int dim)
    {
        var xv = Rand(rng, (long)rows * dim);
        Array.Clear(xv, dim, dim); // row 1 all zeros: the clamped branch (norm ≤ eps, dx = dy/eps)
        using var x = b.Upload(xv, rows, dim);
        var dyv = Rand(rng, xv.Length);
        Array.Clear(dyv, dim, dim); // ... with a zero gradient, else dx = dy/1e-12 dwarfs every other row's error measure
        using var dy = b.Upload(dyv, rows, dim);
        using var y = b.L2NormalizeRows(x, 1e-12);
        using var dx = b.L2NormalizeRowsBackward(dy, x, 1e-12);
        return [("forward", Read(b, y)), ("dx", Read(b, dx))];
    }

    static (string, float[])[] Losses(ITrainingBackend b, Random rng)
    {
        int n = 7, k = 5;
        var labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = rng.Next(k);
        using var logits = b.Upload(Rand(rng, n * k, 3), n, k);
        using var ce = b.SoftmaxCrossEntropyForward(logits, labels);
        using var dz = b.SoftmaxCrossEntropyBackward(ce, labels, 0.7);
        int pairs = 3, rows = 9, dim = 6;
        using var z = b.Upload(Rand(rng, rows * dim), rows, dim);
        using var nt = b.NtXentForward(z, pairs, 0.2);
        using var dzn = b.NtXentBackward(nt, z, pairs, 0.2, 1.3);
        return
        [
            ("cross-entropy loss", [(float)ce.Loss]), ("cross-entropy p", Read(b, ce.Saved)), ("cross-entropy dlogits", Read(b, dz)),
            ("NT-Xent loss", [(float)nt.Loss]), ("NT-Xent p", Read(b, nt.Saved)), ("NT-Xent dz", Read(b, dzn)),
        ];
    }

    static (string, float[])[] Optimizers(ITrainingBackend b, Random rng)
    {
        const int n = 1000;
        using var p = b.Upload(Rand(rng, n), 10, 100);
        using var buf = b.Upload(new float[n], 10, 100);
        using var q = b.Upload(Rand(rng, n), 10, 100);
        using var m = b.Upload(new float[n], 10, 100);
        using var v = b.Upload(new float[n], 10, 100);
        var sgd = new SgdOptions(0.9, 1e-4);
        var adam = new AdamWOptions(WeightDecay: 0.05);
        for (int step = 1; step <= 3; step++)
        {
            using var g = b.Upload(Rand(rng, n), 10, 100);
            b.SgdStep(p, g, buf, sgd, 0.1 / step);
            b.AdamWStep(q, g, m, v, step, adam, 1e-3 * step);
        }
        return [("SGD parameter", Read(b, p)), ("SGD momentum", Read(b, buf)), ("AdamW parameter", Read(b, q)), ("AdamW m", Read(b, m)), ("AdamW v", Read(b, v))];
    }

    static readonly (string Name, Case Run)[] Table =
    [
        // n, cin, cout, k, stride, pads (top, left, bottom, right), h, w
        ("conv 3x3 same, 33 -> 12 channels", (b, r) => Conv(b, r, 2, 33, 12, 3, 1, 1, 1, 1, 1, 7, 6, bias: true)),
        ("conv 3x3 stride 2 asymmetric pads", (b, r) => Conv(b, r, 3, 5, 7, 3, 2, 0, 1, 2, 1, 9, 8, bias: true)),
        ("conv 7x7 stride 2 stem pads 3,3,2,2", (b, r) => Conv(b, r, 2, 3, 6, 7, 2, 3, 3, 2, 2, 12, 11, bias: false)),
        ("conv 1x1 stride 1 (direct GEMM)", (b, r) => Conv(b, r, 3, 20, 9, 1, 1, 0, 0, 0, 0, 5, 7, bias: true)),
        ("conv 1x1 stride 2 downsample", (b, r) => Conv(b, r, 2, 6, 34, 1, 2, 0, 0, 0, 0, 7, 9, bias: false)),
        ("conv 3x3 64 -> 64 on 4 x 14 x 14 (many blocks, K = 576)", (b, r) => Conv(b, r, 4, 64, 64, 3, 1, 1, 1, 1, 1, 14, 14, bias: false)),
        ("batch-norm train and frozen, 35 channels", (b, r) => BatchNorm(b, r, 3, 35, 5, 4)),
        ("batch-norm 64 channels of 8 x 14 x 14 (M = 1568 per channel)", (b, r) => BatchNorm(b, r, 8, 64, 14, 14)),
        ("batch-norm 1x1 maps (M = N)", (b, r) => BatchNorm(b, r, 4, 3, 1, 1)),
        ("batch-norm [N, C] (BatchNorm1d of the contrastive head)", (b, r) => BatchNorm(b, r, 20, 40, 0, 0)),
        ("relu backward", (b, r) =>
        {
            using var x = b.Upload(Rand(r, 3 * 5 * 7 * 2), 3, 5, 7, 2);
            using var y = b.Relu(x);
            using var dy = b.Upload(Rand(r, y.Length), 3, 5, 7, 2);
            using var dx = b.ReluBackward(dy, y);
            return [("dx", Read(b, dx))];
        }),
        ("max-pool 3x3 stride 2 pad 1 backward, ties", (b, r) => MaxPool(b, r, 2, 3, 9, 8, new PoolSpec(3, 2, 1, 1, 1, 1), ties: true)),
        ("max-pool 2x2 stride 2 backward", (b, r) => MaxPool(b, r, 2, 5, 7, 6, new PoolSpec(2, 2, 0, 0, 0, 0), ties: false)),
        ("max-pool 3x3 stride 1 asymmetric pads backward", (b, r) => MaxPool(b, r, 1, 4, 6, 5, new PoolSpec(3, 1, 0, 1, 2, 1), ties: true)),
        ("global average pool backward", (b, r) =>
        {
            using var dy = b.Upload(Rand(r, 3 * 37), 3, 37);
            using var dx = b.GlobalAvgPoolBackward(dy, 5, 3);
            return [("dx", Read(b, dx))];
        }),
        ("linear with bias", (b, r) => Linear(b, r, 6, 37, 10, bias: true)),
        ("linear without bias", (b, r) => Linear(b, r, 5, 8, 33, bias: false)),
        ("L2 row normalisation", (b, r) => L2Normalize(b, r, 5, 131)),
        ("losses: cross-entropy and NT-Xent", Losses),
        ("NT-Xent 8 pairs + 4 extra negatives, D = 33", (b, r) =>
        {
            using var z = b.Upload(Rand(r, 20 * 33, 0.4), 20, 33);
            using var nt = b.NtXentForward(z, 8, 0.1);
            using var dz = b.NtXentBackward(nt, z, 8, 0.1, 1.0);
            return [("loss", [(float)nt.Loss]), ("p", Read(b, nt.Saved)), ("dz", Read(b, dz))];
        }),
        ("optimisers: SGD momentum and AdamW, 3 steps", Optimizers),
    ];

    public static IEnumerable<string> CaseNames => Table.Select(t => t.Name);

    static (string Name, float[] Values)[] RunPoisoned(ITrainingBackend b, Case c, int seed)
    {
        var p = (IPoisonableBackend)b;
        p.PoisonAllocations = true;
        try { return c(b, new Random(seed)); }
        finally { p.PoisonAllocations = false; }
    }

    public static void MatchesReference(CudaBackend cuda, string name, int seed)
    {
        var c = Table.Single(t => t.Name == name).Run;
        lock (cuda)
        {
            using var reference = new ReferenceBackend();
            var expected = RunPoisoned(reference, c, seed);
            var actual = RunPoisoned(cuda, c, seed);
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++)
            {
                double e = BackendOpsTestKit.RelativeError(actual[i].Values, expected[i].Values);
                TestContext.Current.TestOutputHelper?.WriteLine($"{name}: {expected[i].Name}: relative error {e:E2}");
                BackendOpsTestKit.AssertClose(actual[i].Values, expected[i].Values, Tolerance, $"{name}: {expected[i].Name} (seed {seed})");
            }
        }
    }

    /// <summary>The ops with reductions (conv dW summed over images, bias and BN sums, row norms) run twice on the
    /// same inputs give identical bits: fixed-order block sums, no float atomics.</summary>
    public static void RepeatsBitForBit(CudaBackend cuda, int seed)
    {
        lock (cuda)
        {
            foreach (var name in new[] { "conv 3x3 stride 2 asymmetric pads", "batch-norm train and frozen, 35 channels", "L2 row normalisation", "linear with bias" })
            {
                var c = Table.Single(t => t.Name == name).Run;
                var first = c(cuda, new Random(seed));
                var second = c(cuda, new Random(seed));
                for (int i = 0; i < first.Length; i++)
                    Assert.True(first[i].Values.AsSpan().SequenceEqual(second[i].Values), $"{name}: {first[i].Name} differs between two runs (seed {seed})");
            }
        }
    }

    public static void RefusesWrongShapes(CudaBackend cuda)
    {
        ITrainingBackend b = cuda;
        lock (cuda)
        {
            using var x = b.Allocate(2, 3, 5, 5);
            using var w = b.Allocate(4, 3, 3, 3);
            Assert.Throws<ArgumentException>(() => b.Conv2dForward(x, w, null, new ConvSpec(4, 4, 3, 3, 1, 1, 1, 1, 1)));
            using var dy = b.Allocate(2, 4, 4, 4);
            Assert.Throws<ArgumentException>(() => b.Conv2dBackward(dy, x, w, new ConvSpec(3, 4, 3, 3, 1, 1, 1, 1, 1), true, true));
            using var g = b.Allocate(4);
            Assert.Throws<ArgumentException>(() => b.BatchNorm2dTrainForward(x, g, g, g, g, 0.1, 1e-5));
            using var one = b.Allocate(1, 3, 1, 1);
            using var g3 = b.Allocate(3);
            Assert.Throws<ArgumentException>(() => b.BatchNorm2dTrainForward(one, g3, g3, g3, g3, 0.1, 1e-5));
            using var rows = b.Allocate(5, 4);
            Assert.Throws<ArgumentException>(() => b.LinearForward(rows, w, null));
            Assert.Throws<ArgumentException>(() => b.NtXentForward(rows, 3, 0.1));
            Assert.Throws<ArgumentOutOfRangeException>(() => b.AdamWStep(rows, rows, rows, rows, 0, new AdamWOptions(), 1e-3));
        }
    }
}
