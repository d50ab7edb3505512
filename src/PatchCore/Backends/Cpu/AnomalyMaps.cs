using System.Numerics.Tensors;

namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>
    /// Separable everything: bilinear upsampling along x then y (the same taps as PyTorch), then the Gaussian
    /// along x (reflect-padded row, SIMD multiply-adds over shifted slices) and along y (weighted row sums).
    /// Threaded over images.
    /// </summary>
    public DeviceTensor AnomalyMaps(DeviceTensor patchScores, int outH, int outW, float sigma)
    {
        var s = HostMemory.AsHost(patchScores);
        OpContracts.AnomalyMaps(s, outH, outW, sigma);
        int n = s[0], gh = s[1], gw = s[2];
        var result = HostMemory.Allocate([n, outH, outW]);
        if (n == 0) return result;
        float[] g = Resampling.GaussianWeightsSingle(sigma);
        int r = (g.Length - 1) / 2;
        var xs0 = new int[outW]; var xs1 = new int[outW]; var lxs = new float[outW];
        for (int x = 0; x < outW; x++) Resampling.BilinearTap(x, gw, outW, out xs0[x], out xs1[x], out lxs[x]);
        var ys0 = new int[outH]; var ys1 = new int[outH]; var lys = new float[outH];
        for (int y = 0; y < outH; y++) Resampling.BilinearTap(y, gh, outH, out ys0[y], out ys1[y], out lys[y]);
        var src = s.Data;
        var dst = result.Data;
        System.Threading.Tasks.Parallel.For(0, n, Parallel,
            () => (new float[gh * outW], new float[outH * outW], new float[outW + 2 * r]),
            (img, _, scratch) =>
            {
                var (rowsUp, map, ext) = scratch;
                // bilinear along x: gh rows of outW.
                for (int y = 0; y < gh; y++)
                {
                    var inRow = src.AsSpan(img * gh * gw + y * gw, gw);
                    var outRow = rowsUp.AsSpan(y * outW, outW);
                    for (int x = 0; x < outW; x++) outRow[x] = (1 - lxs[x]) * inRow[xs0[x]] + lxs[x] * inRow[xs1[x]];
                }
                // bilinear along y, then the horizontal Gaussian in place of each row.
                for (int y = 0; y < outH; y++)
                {
                    var r0 = rowsUp.AsSpan(ys0[y] * outW, outW);
                    var r1 = rowsUp.AsSpan(ys1[y] * outW, outW);
                    float l = lys[y];
                    for (int x = 0; x < outW; x++) ext[r + x] = (1 - l) * r0[x] + l * r1[x];
                    for (int t = 1; t <= r; t++)
                    {
                        ext[r - t] = ext[r + Resampling.Reflect(-t, outW)];
                        ext[r + outW - 1 + t] = ext[r + Resampling.Reflect(outW - 1 + t, outW)];
                    }
                    var row = map.AsSpan(y * outW, outW);
                    TensorPrimitives.Multiply(ext.AsSpan(0, outW), g[0], row);
                    for (int t = 1; t < g.Length; t++) TensorPrimitives.MultiplyAdd(ext.AsSpan(t, outW), g[t], row, row);
                }
                // vertical Gaussian into the output.
                for (int y = 0; y < outH; y++)
                {
                    var o = dst.AsSpan(img * outH * outW + y * outW, outW);
                    TensorPrimitives.Multiply(map.AsSpan(Resampling.Reflect(y - r, outH) * outW, outW), g[0], o);
                    for (int t = 1; t < g.Length; t++)
                        TensorPrimitives.MultiplyAdd(map.AsSpan(Resampling.Reflect(y - r + t, outH) * outW, outW), g[t], o, o);
                }
                return scratch;
            }, _ => { });
        return result;
    }
}
