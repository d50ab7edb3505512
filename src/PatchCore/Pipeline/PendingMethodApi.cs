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
    public static class F1Max { public static (double F1, float Threshold) Compute(ReadOnlySpan<float> scores, ReadOnlySpan<bool> labels) => throw new NotImplementedException(); }
    public static class Aupro { public static double Compute(ReadOnlySpan<float> maps, ReadOnlySpan<bool> masks, int images, int height, int width, double maxFpr = 0.3) => throw new NotImplementedException(); }
}

namespace PatchCore.Scoring
{
    public enum PatchDistance { SquaredL2, L2 }
    public sealed record ScoringOptions(int K = 1, PatchDistance Distance = PatchDistance.SquaredL2, bool Reweight = false, int ReweightNeighbours = 9);
    public sealed record PatchScores(float[] Patch, int[] Nearest, float[] Image);
    public static class NearestNeighbourScorer
    {
        public static PatchScores Score(IBackend backend, DeviceTensor bank, DeviceTensor patchFeatures, int patchesPerImage, ScoringOptions o) => throw new NotImplementedException();
    }
}
