using PatchCore.Backends;
using PatchCore.Backends.Reference;
using static PatchCore.Tests.Training.GradientCheck;

namespace PatchCore.Tests.Training;

/// <summary>Conv2d backward (input, weight and bias gradients) against finite differences in float64.</summary>
public class ConvGradientTests
{
    public static TheoryData<int, int, int, int, int, int, int, int, int, int> Geometries => new()
    {
        // cin, cout, k, stride, padTop, padLeft, padBottom, padRight, h, w
        { 3, 4, 3, 1, 1, 1, 1, 1, 5, 6 },     // ResNet 3x3
        { 2, 3, 3, 2, 0, 1, 2, 1, 7, 6 },     // stride 2, asymmetric pads
        { 3, 2, 7, 2, 3, 3, 2, 2, 9, 8 },     // the CNTK stem: 7x7 stride 2, pads 3,3,2,2
        { 4, 3, 1, 2, 0, 0, 0, 0, 6, 5 },     // 1x1 stride 2 downsample: odd width leaves a column no window reads
        { 2, 2, 3, 3, 0, 0, 0, 0, 8, 7 },     // stride larger than needed: cells between windows get 0
    };

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Conv2dGradientsMatchFiniteDifferences(int cin, int cout, int k, int stride, int pt, int pl, int pb, int pr, int h, int w)
    {
        int seed = NewSeed();
        var rng = new Random(seed);
        var spec = new ConvSpec(cin, cout, k, k, stride, pt, pl, pb, pr);
        const int n = 2;
        var x = RandomValues(rng, (long)n * cin * h * w);
        var weight = RandomValues(rng, spec.WeightLength);
        var bias = RandomValues(rng, cout);
        var r = RandomValues(rng, (long)n * cout * spec.OutH(h) * spec.OutW(w));
        double Loss() => Dot(r, ReferenceTraining.Conv2dForward(x, n, h, w, weight, bias, spec));

        var dx = ReferenceTraining.Conv2dInputGradient(r, n, h, w, weight, spec);
        var dw = ReferenceTraining.Conv2dWeightGradient(r, x, n, h, w, spec);
        var db = ReferenceTraining.Conv2dBiasGradient(r, n, cout, spec.OutH(h) * spec.OutW(w));
        Check("conv dx", seed, dx, x, Loss);
        Check("conv dW", seed, dw, weight, Loss);
        Check("conv db", seed, db, bias, Loss);
    }
}
