using ILGPU;
using ILGPU.Runtime;
using PatchCore.Backends;

namespace PatchCore.Gpu;

// Anomaly maps: bilinear upsampling of the patch-score grid (align_corners = false), then a separable
// Gaussian blur (scipy.ndimage.gaussian_filter: radius int(4 sigma + 0.5), 'reflect' borders d c b a | a b c d).
// Three launches, each one thread per output pixel; the blur taps are computed once on the host.
public sealed partial class GpuBackend
{
    internal struct MapArgs
    {
        public int GH, GW, H, W, Radius;
    }

    Action<Index1D, ArrayView<float>, ArrayView<float>, MapArgs> _upsample = null!;
    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, MapArgs> _blurRows = null!;
    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, MapArgs> _blurCols = null!;

    void LoadAnomalyMaps()
    {
        _upsample = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, MapArgs>(UpsampleBilinearKernel);
        _blurRows = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, MapArgs>(BlurRowsKernel);
        _blurCols = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, MapArgs>(BlurColsKernel);
    }

    static void UpsampleBilinearKernel(Index1D index, ArrayView<float> grid, ArrayView<float> map, MapArgs a)
    {
        int i = index;
        int x = i % a.W;
        int t = i / a.W;
        int y = t % a.H;
        int img = t / a.H;
        BilinearSource(y, a.GH, a.H, out int y0, out int y1, out float fy);
        BilinearSource(x, a.GW, a.W, out int x0, out int x1, out float fx);
        int b = img * a.GH * a.GW;
        float v00 = grid[b + y0 * a.GW + x0], v01 = grid[b + y0 * a.GW + x1];
        float v10 = grid[b + y1 * a.GW + x0], v11 = grid[b + y1 * a.GW + x1];
        map[i] = (1f - fy) * ((1f - fx) * v00 + fx * v01) + fy * ((1f - fx) * v10 + fx * v11);
    }

    /// <summary>scipy 'reflect' (half-sample symmetric): the signal continues mirrored with period 2n, so
    /// radii larger than the image still land inside.</summary>
    static int Reflect(int i, int n)
    {
        int period = 2 * n;
        int m = i % period;
        if (m < 0) m += period;
        return m < n ? m : period - 1 - m;
    }

    static void BlurRowsKernel(Index1D index, ArrayView<float> src, ArrayView<float> dst, ArrayView<float> taps, MapArgs a)
    {
        int i = index;
        int x = i % a.W;
        int rowStart = i - x;
        float sum = 0f;
        for (int j = -a.Radius; j <= a.Radius; j++)
            sum += taps[j + a.Radius] * src[rowStart + Reflect(x + j, a.W)];
        dst[i] = sum;
    }

    static void BlurColsKernel(Index1D index, ArrayView<float> src, ArrayView<float> dst, ArrayView<float> taps, MapArgs a)
    {
        int i = index;
        int x = i % a.W;
        int t = i / a.W;
        int y = t % a.H;
        int planeStart = (t - y) * a.W;
        float sum = 0f;
        for (int j = -a.Radius; j <= a.Radius; j++)
            sum += taps[j + a.Radius] * src[planeStart + Reflect(y + j, a.H) * a.W + x];
        dst[i] = sum;
    }

    public DeviceTensor AnomalyMaps(DeviceTensor patchScores, int outH, int outW, float sigma)
    {
        OpContracts.AnomalyMaps(patchScores, outH, outW, sigma);
        int n = patchScores[0];
        var map = AllocateTensor(n, outH, outW);
        if (map.Length == 0) return map;
        var args = new MapArgs { GH = patchScores[1], GW = patchScores[2], H = outH, W = outW };
        int total = (int)map.Length;
        if (!(sigma > 0f))
        {
            _upsample(total, AsGpu(patchScores).View, map.View, args);
            return map;
        }
        var taps = Resampling.GaussianWeightsSingle(sigma);
        args.Radius = taps.Length / 2;
        using var tapBuf = (GpuTensor)Upload(taps, taps.Length);
        using var scratch = _accelerator.Allocate1D<float>(total);
        _upsample(total, AsGpu(patchScores).View, map.View, args);
        _blurRows(total, map.View, scratch.View, tapBuf.View, args);
        _blurCols(total, scratch.View, map.View, tapBuf.View, args);
        _accelerator.Synchronize(); // taps and scratch are freed on return
        return map;
    }
}
