namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    /// <summary>
    /// Bilinear upsampling (align_corners=false) of each patch-score grid, then a direct 2-D Gaussian blur with
    /// the outer-product kernel w(dy)·w(dx) and scipy 'reflect' borders, in double.
    /// </summary>
    public DeviceTensor AnomalyMaps(DeviceTensor patchScores, int outH, int outW, float sigma)
    {
        var s = HostMemory.AsHost(patchScores);
        OpContracts.AnomalyMaps(s, outH, outW, sigma);
        int n = s[0], gh = s[1], gw = s[2];
        var result = HostMemory.Allocate([n, outH, outW]);
        var up = new double[outH * outW];
        double[] g = Resampling.GaussianWeights(sigma);
        int r = (g.Length - 1) / 2;
        for (int img = 0; img < n; img++)
        {
            long bas = (long)img * gh * gw;
            for (int y = 0; y < outH; y++)
            {
                Resampling.BilinearTap(y, gh, outH, out int y0, out int y1, out float ly);
                for (int x = 0; x < outW; x++)
                {
                    Resampling.BilinearTap(x, gw, outW, out int x0, out int x1, out float lx);
                    var v = s.Data;
                    up[y * outW + x] = (1 - (double)ly) * ((1 - (double)lx) * v[bas + y0 * gw + x0] + lx * v[bas + y0 * gw + x1])
                                     + ly * ((1 - (double)lx) * v[bas + y1 * gw + x0] + lx * v[bas + y1 * gw + x1]);
                }
            }
            for (int y = 0; y < outH; y++)
                for (int x = 0; x < outW; x++)
                {
                    double acc = 0;
                    for (int dy = -r; dy <= r; dy++)
                    {
                        int sy = Resampling.Reflect(y + dy, outH);
                        for (int dx = -r; dx <= r; dx++)
                            acc += g[dy + r] * g[dx + r] * up[sy * outW + Resampling.Reflect(x + dx, outW)];
                    }
                    result.Data[((long)img * outH + y) * outW + x] = (float)acc;
                }
        }
        return result;
    }
}
