using PatchCore.Backends;

namespace PatchCore.Cuda;

public sealed partial class CudaBackend
{
    /// <summary>Normalised Gaussian taps as scipy.ndimage builds them: radius int(truncate*sigma + 0.5), truncate 4, computed in double.</summary>
    public static float[] GaussianTaps(float sigma)
    {
        int radius = (int)(4.0 * sigma + 0.5);
        var taps = new double[2 * radius + 1];
        double sum = 0;
        for (int i = -radius; i <= radius; i++) sum += taps[i + radius] = Math.Exp(-0.5 * i * i / ((double)sigma * sigma));
        var f = new float[taps.Length];
        for (int i = 0; i < f.Length; i++) f[i] = (float)(taps[i] / sum);
        return f;
    }

    public DeviceTensor AnomalyMaps(DeviceTensor patchScores, int outH, int outW, float sigma)
    {
        if (patchScores.Rank != 3) throw new ArgumentException($"patch scores must be [N, gh, gw], got {patchScores.ShapeString}");
        if (outH < 1 || outW < 1) throw new ArgumentException($"map size {outH}x{outW}");
        int n = patchScores[0], gh = patchScores[1], gw = patchScores[2];
        var up = (CudaTensor)Allocate(n, outH, outW);
        Launch("upsample_bilinear", Grid(up.Length), 256, 0, [T(patchScores).Ptr, up.Ptr, I(n), I(gh), I(gw), I(outH), I(outW)]);
        if (!(sigma > 0)) return up;
        var taps = GaussianTaps(sigma);
        int radius = taps.Length / 2;
        using var w = AllocBuffer(taps.Length * 4L);
        UploadRaw(w.Ptr, taps.AsSpan());
        var tmp = (CudaTensor)Allocate(n, outH, outW);
        var y = (CudaTensor)Allocate(n, outH, outW);
        Launch("blur_1d", Grid(up.Length), 256, 0, [up.Ptr, tmp.Ptr, I(n), I(outH), I(outW), w.Ptr, I(radius), I(1)]);
        Launch("blur_1d", Grid(up.Length), 256, 0, [tmp.Ptr, y.Ptr, I(n), I(outH), I(outW), w.Ptr, I(radius), I(0)]);
        up.Dispose();
        tmp.Dispose();
        return y;
    }
}
