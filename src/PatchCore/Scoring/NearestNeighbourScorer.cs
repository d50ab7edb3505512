using PatchCore.Backends;

namespace PatchCore.Scoring;

/// <summary>Which distance a patch score is.</summary>
public enum PatchDistance
{
    /// <summary>Squared Euclidean, as the official code gets it from faiss IndexFlatL2.</summary>
    SquaredL2,
    /// <summary>Euclidean, as anomalib (torch.cdist).</summary>
    L2,
}

/// <summary>Scoring parameters.</summary>
/// <param name="K">Nearest bank rows averaged into a patch score (official anomaly_scorer_num_nn, default 1).</param>
/// <param name="Distance">Squared L2 (official) or L2 (anomalib).</param>
/// <param name="Reweight">Paper eq. 7 image-score reweighting (paper and anomalib; not in the official code).</param>
/// <param name="ReweightNeighbours">b, the size of the nearest bank feature's neighbourhood N_b(m*) (anomalib num_neighbors = 9).</param>
public sealed record ScoringOptions(int K = 1, PatchDistance Distance = PatchDistance.SquaredL2, bool Reweight = false,
    int ReweightNeighbours = 9);

/// <summary>Per-patch scores (row order of the patch features), the nearest bank row of each patch and per-image scores.</summary>
public sealed record PatchScores(float[] Patch, int[] Nearest, float[] Image);

/// <summary>
/// Patch score = mean over the K nearest memory-bank rows of the chosen distance (official: mean of faiss's
/// squared L2 over anomaly_scorer_num_nn = 1 neighbours); image score = max patch score of the image.
///
/// Optional reweighting, paper eq. 7 in anomalib's formulation: for each image take the patch m_test with the
/// highest score s* (first on ties, as torch.argmax), its nearest bank row m*, and m*'s b nearest bank rows
/// N_b(m*) (m* itself first). With Euclidean distances δ_j = ‖m_test − n_j‖ to those rows,
/// w = 1 − exp(δ_0) / Σ_j exp(δ_j) and the image score is w · s*. b = 1 means no reweighting (anomalib returns
/// the max directly then). s* keeps the configured patch distance; the δ_j are always Euclidean, as anomalib.
/// </summary>
public static class NearestNeighbourScorer
{
    public static PatchScores Score(IBackend backend, DeviceTensor bank, DeviceTensor patchFeatures, int patchesPerImage, ScoringOptions o)
    {
        if (bank.Rank != 2 || patchFeatures.Rank != 2 || bank[1] != patchFeatures[1])
            throw new ArgumentException($"bank {bank.ShapeString} and patch features {patchFeatures.ShapeString} need [K,D] and [M,D]");
        int m = patchFeatures[0], rows = bank[0], d = bank[1];
        if (patchesPerImage < 1 || m % patchesPerImage != 0)
            throw new ArgumentException($"{m} patch rows are not a whole number of images of {patchesPerImage} patches");
        if (o.K < 1 || o.K > rows) throw new ArgumentException($"K = {o.K} nearest neighbours of a bank of {rows} rows");
        int images = m / patchesPerImage, k = o.K;

        var dist = new float[(long)m * k];
        var idx = new int[(long)m * k];
        backend.NearestNeighbours(patchFeatures, bank, k, dist, idx);
        var patch = new float[m];
        var nearest = new int[m];
        for (int i = 0; i < m; i++)
        {
            double s = 0;
            for (int t = 0; t < k; t++)
            {
                float v = dist[(long)i * k + t];
                s += o.Distance == PatchDistance.L2 ? Math.Sqrt(v) : v;
            }
            patch[i] = (float)(s / k);
            nearest[i] = idx[(long)i * k];
        }

        var image = new float[images];
        var argmax = new int[images];
        for (int img = 0; img < images; img++)
        {
            int best = img * patchesPerImage;
            for (int i = best + 1; i < (img + 1) * patchesPerImage; i++) if (patch[i] > patch[best]) best = i;
            argmax[img] = best;
            image[img] = patch[best];
        }

        int b = Math.Min(o.ReweightNeighbours, rows);
        if (o.Reweight && b > 1 && images > 0) Reweight(backend, bank, patchFeatures, nearest, argmax, b, image, d);
        return new PatchScores(patch, nearest, image);
    }

    static void Reweight(IBackend backend, DeviceTensor bank, DeviceTensor patchFeatures, int[] nearest, int[] argmax,
        int b, float[] image, int d)
    {
        int images = image.Length;
        var bankHost = new float[bank.Length];
        backend.Download(bank, bankHost);
        var features = new float[patchFeatures.Length];
        backend.Download(patchFeatures, features);

        // N_b(m*) for every image's m* in one k-NN call.
        var mStar = new float[(long)images * d];
        for (int img = 0; img < images; img++)
            Array.Copy(bankHost, (long)nearest[argmax[img]] * d, mStar, (long)img * d, d);
        var support = new int[images * b];
        var supportDist = new float[images * b];
        using (var q = backend.Upload(mStar, images, d))
            backend.NearestNeighbours(q, bank, b, supportDist, support);

        var delta = new double[b];
        for (int img = 0; img < images; img++)
        {
            long test = (long)argmax[img] * d;
            double max = double.NegativeInfinity;
            for (int j = 0; j < b; j++)
            {
                long row = (long)support[img * b + j] * d;
                double s = 0;
                for (int t = 0; t < d; t++) { double diff = (double)features[test + t] - bankHost[row + t]; s += diff * diff; }
                delta[j] = Math.Sqrt(s);
                max = Math.Max(max, delta[j]);
            }
            double sum = 0;
            for (int j = 0; j < b; j++) sum += Math.Exp(delta[j] - max); // shifted: same softmax, no overflow
            double w = 1 - Math.Exp(delta[0] - max) / sum;
            image[img] = (float)(w * image[img]);
        }
    }
}
