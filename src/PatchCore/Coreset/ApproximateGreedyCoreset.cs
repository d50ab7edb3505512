using PatchCore.Backends;

namespace PatchCore.Coreset;

/// <summary>Coreset subsampling parameters (ALGORITHM.md "Coreset"); defaults are the official ones.</summary>
/// <param name="Percentage">Fraction of the rows kept; ≥ 1 keeps all (no subsampling). Official default 0.1.</param>
/// <param name="ProjectionDim">Random projection dimension for the distance computations (official 128).</param>
/// <param name="StartPoints">Random starting rows whose mean distance initialises the search (official 10).</param>
/// <param name="Seed">Seed of the projection matrix and the starting rows.</param>
/// <param name="Projection">Distribution of the projection matrix entries.</param>
public sealed record CoresetOptions(double Percentage = 0.1, int ProjectionDim = 128, int StartPoints = 10, int Seed = 0,
    CoresetProjection Projection = CoresetProjection.Gaussian);

/// <summary>Entries of the coreset's random projection matrix (D x ProjectionDim).</summary>
public enum CoresetProjection
{
    /// <summary>N(0, 1/ProjectionDim): the Johnson–Lindenstrauss matrix ALGORITHM.md describes.</summary>
    Gaussian,
    /// <summary>U(-1/sqrt(D), 1/sqrt(D)): what the official code gets from an untrained torch.nn.Linear(D, 128)
    /// (its default Kaiming-uniform init). Lighter tails than the Gaussian, so projected distances scatter a
    /// little less around the true ones.</summary>
    Uniform,
}

/// <summary>
/// The official approximate greedy coreset: project, pick random starting rows, then farthest-point traversal
/// (IBackend.GreedyCoreset) for int(N · percentage) iterations. Returns row indices into the full-dimensional
/// features, in order of selection; the memory bank keeps those rows at full dimension.
/// </summary>
public static class ApproximateGreedyCoreset
{
    public static int[] Select(IBackend backend, DeviceTensor features, CoresetOptions o)
    {
        if (features.Rank != 2) throw new ArgumentException($"coreset features {features.ShapeString} must be [N, D]");
        if (!(o.Percentage > 0)) throw new ArgumentException($"coreset percentage {o.Percentage} must be positive");
        if (o.ProjectionDim < 1 || o.StartPoints < 1) throw new ArgumentException("coreset projection dimension and start points must be positive");
        int n = features[0], d = features[1];
        // Official sampler returns the features unchanged when percentage == 1; any value ≥ 1 means "keep all".
        if (o.Percentage >= 1 || n == 0)
        {
            var all = new int[n];
            for (int i = 0; i < n; i++) all[i] = i;
            return all;
        }
        // Official: num_coreset_samples = int(len(features) * percentage) (truncation).
        int count = (int)(n * o.Percentage);
        if (count == 0) return [];
        var rng = new SeededRandom((ulong)o.Seed);

        // Projection. The official code maps with an untrained torch.nn.Linear(D, 128, bias=False), whose default
        // init draws U(-1/sqrt(D), 1/sqrt(D)) (CoresetProjection.Uniform); ALGORITHM.md describes a Gaussian
        // Johnson–Lindenstrauss matrix (CoresetProjection.Gaussian). The scale only rescales all distances (the
        // selection is scale-invariant). The official code skips the projection when D already equals 128;
        // projecting to a dimension ≥ D would not save work either, so we skip it then as well.
        DeviceTensor? projected = null;
        if (d > o.ProjectionDim)
        {
            var matrix = new float[(long)d * o.ProjectionDim];
            if (o.Projection == CoresetProjection.Uniform)
            {
                double bound = 1.0 / Math.Sqrt(d);
                for (long i = 0; i < matrix.LongLength; i++) matrix[i] = (float)((2 * rng.NextDouble() - 1) * bound);
            }
            else
            {
                double scale = 1.0 / Math.Sqrt(o.ProjectionDim);
                for (long i = 0; i < matrix.LongLength; i++) matrix[i] = (float)(rng.NextGaussian() * scale);
            }
            using var m = backend.Upload(matrix, d, o.ProjectionDim);
            projected = backend.MatMul(features, m);
        }
        try
        {
            // Official: np.random.choice(N, min(10, N), replace=False) — distinct rows.
            int starts = Math.Min(o.StartPoints, n);
            var chosen = new int[starts];
            var seen = new HashSet<int>();
            for (int s = 0; s < starts;)
            {
                int r = rng.NextInt(n);
                if (seen.Add(r)) chosen[s++] = r;
            }
            return backend.GreedyCoreset(projected ?? features, count, chosen);
        }
        finally { projected?.Dispose(); }
    }
}
