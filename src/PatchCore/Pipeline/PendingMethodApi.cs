// TEMPORARY: placeholders for the METHOD helper's API so this branch builds; deleted when main has them.
using PatchCore.Backends;

namespace PatchCore.Coreset
{
    public sealed record CoresetOptions(double Percentage, int ProjectionDim = 128, int StartPoints = 10, int Seed = 0);
    public static class ApproximateGreedyCoreset
    {
        public static int[] Select(IBackend backend, DeviceTensor features, CoresetOptions options) => throw new NotImplementedException();
    }
}

namespace PatchCore.Metrics
{
    public static class Auroc { public static double Compute(ReadOnlySpan<float> scores, ReadOnlySpan<bool> labels) => throw new NotImplementedException(); }
    public static class F1Max { public static double Compute(ReadOnlySpan<float> scores, ReadOnlySpan<bool> labels) => throw new NotImplementedException(); }
    public static class Aupro { public static double Compute(ReadOnlySpan<float> maps, ReadOnlySpan<bool> masks, int images, int height, int width, double maxFpr = 0.3) => throw new NotImplementedException(); }
}
