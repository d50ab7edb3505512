namespace PatchCore.Tests.Training;

/// <summary>
/// Central finite differences in float64 against the reference ops' analytic gradients.
///
/// <para><b>Error measure</b> (one number per gradient tensor): ‖a − n‖₂ / max(‖n‖₂, 1e-30), a the analytic and
/// n the numeric gradient — the norm-wise relative error, so an element whose true gradient is ~0 (where the
/// finite difference is pure round-off) cannot dominate. NaN or ∞ anywhere gives +∞ (fails). Bound: 1e-6.</para>
/// <para><b>Step</b> h = 1e-6 on inputs of order 1: truncation error ~h² ≈ 1e-12, round-off ~1e-16/h ≈ 1e-10.</para>
/// <para><b>Kinks</b>: ReLU and max-pool are not differentiable where a pre-activation is 0 or a window ties. A
/// loss function reports a signature of its piecewise pattern (which ReLUs are on, which cells win); a coordinate
/// whose ±h evaluations change the pattern straddles a kink, and is left out of the measure on BOTH sides.
/// At most 2% of the coordinates of a tensor may be left out, else the check fails (so a bug that flips
/// patterns cannot hide there).</para>
/// <para><b>Fresh inputs</b>: every run draws a new seed (or takes PCNATIVE_TEST_SEED to reproduce a failure); the
/// seed is printed and is part of every failure message.</para>
/// </summary>
public static class GradientCheck
{
    public const double Tolerance = 1e-6;
    const double Step = 1e-6, MaxSkippedFraction = 0.02;

    /// <summary>A loss value and the signature of its piecewise-linear pattern (0 for smooth functions).</summary>
    public readonly record struct Evaluation(double Loss, long Pattern);

    public static int NewSeed()
    {
        var fixedSeed = Environment.GetEnvironmentVariable("PCNATIVE_TEST_SEED");
        int seed = int.TryParse(fixedSeed, out var s) ? s : Random.Shared.Next();
        TestContext.Current.TestOutputHelper?.WriteLine($"gradient-check seed {seed} (rerun with PCNATIVE_TEST_SEED={seed})");
        return seed;
    }

    /// <summary>Uniform values in (−scale, scale).</summary>
    public static double[] RandomValues(Random rng, long n, double scale = 1)
    {
        var v = new double[n];
        for (long i = 0; i < n; i++) v[i] = (rng.NextDouble() * 2 - 1) * scale;
        return v;
    }

    /// <summary>Uniform values with |v| in [margin, 1): away from ReLU's kink at 0.</summary>
    public static double[] AwayFromZero(Random rng, long n, double margin = 0.05)
    {
        var v = new double[n];
        for (long i = 0; i < n; i++) v[i] = (margin + rng.NextDouble() * (1 - margin)) * (rng.Next(2) == 0 ? -1 : 1);
        return v;
    }

    /// <summary>Σ r_i·y_i: a scalar whose gradient with respect to y is r, so an op's backward is called with dy = r.</summary>
    public static double Dot(double[] r, double[] y)
    {
        Assert.Equal(r.Length, y.Length);
        double s = 0;
        for (int i = 0; i < r.Length; i++) s += r[i] * y[i];
        return s;
    }

    /// <summary>Hash of which elements are positive (the ReLU pattern), mixed into a running signature.</summary>
    public static long Positives(double[] y, long signature = 17)
    {
        for (int i = 0; i < y.Length; i++) signature = signature * 31 + (y[i] > 0 ? 1 : 0);
        return signature;
    }

    public static double RelativeError(double[] analytic, double[] numeric, bool[]? skip = null)
    {
        Assert.Equal(numeric.Length, analytic.Length);
        double diff = 0, norm = 0;
        for (int i = 0; i < numeric.Length; i++)
        {
            if (!double.IsFinite(analytic[i]) || !double.IsFinite(numeric[i])) return double.PositiveInfinity;
            if (skip != null && skip[i]) continue;
            diff += (analytic[i] - numeric[i]) * (analytic[i] - numeric[i]);
            norm += numeric[i] * numeric[i];
        }
        return Math.Sqrt(diff) / Math.Max(Math.Sqrt(norm), 1e-30);
    }

    /// <summary>
    /// Checks <paramref name="analytic"/> = d loss / d <paramref name="x"/> by central differences: x is perturbed
    /// in place (and restored) and <paramref name="loss"/> re-evaluated, so loss must read x at call time.
    /// </summary>
    public static void Check(string what, int seed, double[] analytic, double[] x, Func<Evaluation> loss)
    {
        Assert.Equal(x.Length, analytic.Length);
        long basePattern = loss().Pattern;
        var numeric = new double[x.Length];
        var skip = new bool[x.Length];
        int skipped = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double keep = x[i];
            x[i] = keep + Step;
            var plus = loss();
            x[i] = keep - Step;
            var minus = loss();
            x[i] = keep;
            numeric[i] = (plus.Loss - minus.Loss) / (2 * Step);
            if (plus.Pattern != basePattern || minus.Pattern != basePattern) { skip[i] = true; skipped++; }
        }
        double e = RelativeError(analytic, numeric, skip);
        TestContext.Current.TestOutputHelper?.WriteLine($"{what}: relative error {e:E2} over {x.Length - skipped} of {x.Length} coordinates");
        Assert.True(skipped <= MaxSkippedFraction * x.Length,
            $"{what}: {skipped} of {x.Length} coordinates straddle a kink (seed {seed})");
        Assert.True(e <= Tolerance, $"{what}: relative error {e:E3} > {Tolerance:E0} (seed {seed})");
    }

    /// <summary>Smooth functions: no pattern.</summary>
    public static void Check(string what, int seed, double[] analytic, double[] x, Func<double> loss) =>
        Check(what, seed, analytic, x, () => new Evaluation(loss(), 0));
}
