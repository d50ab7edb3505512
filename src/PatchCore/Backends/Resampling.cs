namespace PatchCore.Backends;

/// <summary>
/// Index arithmetic shared by every backend so they all follow the same conventions (PyTorch's interpolate,
/// adaptive_avg_pool1d and scipy's gaussian_filter). Pure functions of sizes; no data.
/// </summary>
public static class Resampling
{
    /// <summary>
    /// PyTorch bilinear, align_corners=false, output size given (scale = in/out): the two source taps and the
    /// weight of the second one for output index <paramref name="dst"/>. Negative source positions clamp to 0
    /// and the upper tap clamps to the last index, exactly as PyTorch's upsample_bilinear2d does.
    /// </summary>
    public static void BilinearTap(int dst, int inSize, int outSize, out int i0, out int i1, out float lambda1)
    {
        // PyTorch computes in float (accscalar_t is float for float inputs).
        float scale = (float)inSize / outSize;
        float src = (dst + 0.5f) * scale - 0.5f;
        if (src < 0) src = 0;
        i0 = Math.Min((int)src, inSize - 1);
        i1 = i0 < inSize - 1 ? i0 + 1 : i0;
        lambda1 = src - i0;
        if (lambda1 < 0) lambda1 = 0; // only reachable when i0 was clamped; keeps weights in [0,1]
    }

    /// <summary>PyTorch nearest (legacy 'nearest', output size given): src = min(floor(dst * in/out), in-1).</summary>
    public static int NearestTap(int dst, int inSize, int outSize)
    {
        float scale = (float)inSize / outSize;
        return Math.Min((int)MathF.Floor(dst * scale), inSize - 1);
    }

    /// <summary>adaptive_avg_pool1d bin i of L inputs into P outputs: [floor(i*L/P), ceil((i+1)*L/P)).</summary>
    public static void AdaptiveBin(int i, int inLength, int outLength, out int start, out int end)
    {
        start = (int)((long)i * inLength / outLength);
        end = (int)(((long)(i + 1) * inLength + outLength - 1) / outLength);
    }

    /// <summary>scipy.ndimage radius for a Gaussian: int(truncate * sigma + 0.5), truncate 4.</summary>
    public static int GaussianRadius(float sigma, double truncate = 4.0) => (int)(truncate * sigma + 0.5);

    /// <summary>scipy's normalised 1-D Gaussian weights exp(-x²/(2σ²)) / Σ, x = -radius..radius (double).</summary>
    public static double[] GaussianWeights(float sigma, double truncate = 4.0)
    {
        if (sigma == 0) return [1.0]; // no blur (scipy would divide by zero)
        int r = GaussianRadius(sigma, truncate);
        var w = new double[2 * r + 1];
        double s2 = (double)sigma * sigma, sum = 0;
        for (int x = -r; x <= r; x++) sum += w[x + r] = Math.Exp(-0.5 / s2 * x * x);
        for (int i = 0; i < w.Length; i++) w[i] /= sum;
        return w;
    }

    /// <summary>
    /// <see cref="GaussianWeights"/> rounded to float, the taps the cpu, gpu and cuda blur kernels multiply with.
    /// The one place every backend gets its blur weights from (they used to compute their own, and only this
    /// routine handled sigma 0).
    /// </summary>
    public static float[] GaussianWeightsSingle(float sigma, double truncate = 4.0)
    {
        double[] w = GaussianWeights(sigma, truncate);
        var f = new float[w.Length];
        for (int i = 0; i < f.Length; i++) f[i] = (float)w[i];
        return f;
    }

    /// <summary>scipy 'reflect' border (d c b a | a b c d | d c b a), periodic with period 2n for any index.</summary>
    public static int Reflect(int i, int n)
    {
        int period = 2 * n;
        i %= period;
        if (i < 0) i += period;
        return i < n ? i : period - 1 - i;
    }
}
