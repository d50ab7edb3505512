using static PatchCore.Tests.Training.GradientCheck;

namespace PatchCore.Tests.Training;

/// <summary>The checker itself fails where it must: a wrong gradient, a NaN, too many kinks.</summary>
public class GradientCheckTests
{
    // f(x) = Σ x_i³ / 3 + x_0·x_1: gradient x_i² + (x_1, x_0, 0).
    static double F(double[] x) => x.Sum(v => v * v * v / 3) + x[0] * x[1];
    static double[] Grad(double[] x) => x.Select((v, i) => v * v + (i == 0 ? x[1] : i == 1 ? x[0] : 0)).ToArray();

    [Fact]
    public void AcceptsTheTrueGradientAndRejectsAWrongOne()
    {
        double[] x = [0.3, -0.7, 1.1];
        Check("true gradient", 0, Grad(x), x, () => F(x));
        var wrong = Grad(x);
        wrong[2] *= 1 + 1e-5; // one element off by 1e-5 relative
        Assert.ThrowsAny<Exception>(() => Check("wrong gradient", 0, wrong, x, () => F(x)));
        var poisoned = Grad(x);
        poisoned[1] = double.NaN; // an element the op never wrote
        Assert.ThrowsAny<Exception>(() => Check("NaN gradient", 0, poisoned, x, () => F(x)));
    }

    [Fact]
    public void SkipsKinksButNotTooMany()
    {
        // Σ |x_i| with one of 100 coordinates within h of its kink: skipped, the rest agree.
        var x = Enumerable.Range(0, 100).Select(i => i % 2 == 0 ? 0.5 + i : -0.5 - i).ToArray();
        x[7] = 1e-9;
        double[] Sign() => x.Select(v => v > 0 ? 1.0 : -1.0).ToArray();
        Evaluation Abs() => new(x.Sum(Math.Abs), Positives(x));
        var g = Sign();
        g[7] = 0.25; // whatever the op says exactly at a kink is not judged
        Check("abs with one kink", 0, g, x, Abs);
        // Ten coordinates at kinks (10%) is more than a pattern bug may hide behind: fails.
        for (int i = 0; i < 10; i++) x[i * 10 + 3] = 0;
        Assert.ThrowsAny<Exception>(() => Check("abs with many kinks", 0, Sign(), x, Abs));
    }
}
