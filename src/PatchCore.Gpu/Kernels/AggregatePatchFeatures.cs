using ILGPU;
using ILGPU.Runtime;
using PatchCore.Backends;

namespace PatchCore.Gpu;

// Patch-feature aggregation (ALGORITHM.md "Patch features"): one thread per output element (row, dim), so
// neighbouring threads write neighbouring floats of one feature row.
//
// Official mode. The official pipeline unfolds each map 3x3 (C*9 values per cell, channel-major), bilinearly
// upsamples layer3's unfolded planes to layer2's grid, adaptive-average-pools each C*9 vector to PretrainDim,
// then pools the flattened stacked [2, PretrainDim] vector to TargetDim. Upsampling (over the grid) and
// pooling (over the feature axis) are both linear and act on different axes, so a thread computes layer3's
// pooled values at the 4 bilinear source cells and blends them: no unfolded or upsampled tensor is stored.
// Adaptive pooling bins: output i averages inputs [floor(i*L/P), ceil((i+1)*L/P)); for ResNet widths these
// straddle channels, so the bin formula is implemented exactly.
//
// Anomalib mode: 3x3 average pool (stride 1, pad 1, zeros counted) of each layer, layer3 nearest-upsampled,
// channels concatenated.
public sealed partial class GpuBackend
{
    internal struct AggregationArgs
    {
        public ArrayView<float> L2, L3, Out;
        public int C2, H, W, C3, h, w, Patch, Pretrain, Target, Dim;
    }

    Action<Index1D, AggregationArgs> _aggregateOfficial = null!;
    Action<Index1D, AggregationArgs> _aggregateAnomalib = null!;

    void LoadAggregation()
    {
        _aggregateOfficial = _accelerator.LoadAutoGroupedStreamKernel<Index1D, AggregationArgs>(AggregateOfficialKernel);
        _aggregateAnomalib = _accelerator.LoadAutoGroupedStreamKernel<Index1D, AggregationArgs>(AggregateAnomalibKernel);
    }

    /// <summary>Adaptive-average-pooled bin p (of P) of the C*patch² unfold vector at cell (y, x) of an
    /// [N, C, H, W] map; the unfold pads with zeros.</summary>
    static float PooledUnfold(ArrayView<float> map, int img, int c, int hh, int ww, int y, int x, int patch, int p, int P)
    {
        int pp = patch * patch;
        int len = c * pp;
        int start = p * len / P;
        int end = ((p + 1) * len + P - 1) / P;
        int pad = (patch - 1) / 2;
        float sum = 0f;
        for (int l = start; l < end; l++)
        {
            int ch = l / pp;
            int r = l - ch * pp;
            int ky = r / patch;
            int yy = y + ky - pad, xx = x + (r - ky * patch) - pad;
            if (yy >= 0 && yy < hh && xx >= 0 && xx < ww)
                sum += map[((img * c + ch) * hh + yy) * ww + xx];
        }
        return sum / (end - start);
    }

    /// <summary>Bilinear source of output coordinate o when scaling size outSize → inSize (align_corners =
    /// false, as torch: negative sources clamp to 0, the upper neighbour clamps to the edge).</summary>
    static void BilinearSource(int o, int inSize, int outSize, out int i0, out int i1, out float frac)
    {
        // Same float arithmetic as PyTorch (scale first), so the taps agree bit for bit at exact crossings.
        float scale = (float)inSize / outSize;
        float src = (o + 0.5f) * scale - 0.5f;
        if (src < 0f) src = 0f;
        i0 = (int)src;
        if (i0 > inSize - 1) i0 = inSize - 1;
        i1 = i0 < inSize - 1 ? i0 + 1 : i0;
        frac = src - i0;
    }

    static void AggregateOfficialKernel(Index1D index, AggregationArgs a)
    {
        int idx = index;
        int t = idx % a.Target;
        int row = idx / a.Target;
        int hw = a.H * a.W;
        int img = row / hw;
        int cell = row - img * hw;
        int y = cell / a.W, x = cell - y * a.W;

        BilinearSource(y, a.h, a.H, out int y0, out int y1, out float fy);
        BilinearSource(x, a.w, a.W, out int x0, out int x1, out float fx);

        int total = 2 * a.Pretrain;
        int start = t * total / a.Target;
        int end = ((t + 1) * total + a.Target - 1) / a.Target;
        float sum = 0f;
        for (int u = start; u < end; u++)
        {
            if (u < a.Pretrain)
            {
                sum += PooledUnfold(a.L2, img, a.C2, a.H, a.W, y, x, a.Patch, u, a.Pretrain);
            }
            else
            {
                int p = u - a.Pretrain;
                float v00 = PooledUnfold(a.L3, img, a.C3, a.h, a.w, y0, x0, a.Patch, p, a.Pretrain);
                float v01 = PooledUnfold(a.L3, img, a.C3, a.h, a.w, y0, x1, a.Patch, p, a.Pretrain);
                float v10 = PooledUnfold(a.L3, img, a.C3, a.h, a.w, y1, x0, a.Patch, p, a.Pretrain);
                float v11 = PooledUnfold(a.L3, img, a.C3, a.h, a.w, y1, x1, a.Patch, p, a.Pretrain);
                sum += (1f - fy) * ((1f - fx) * v00 + fx * v01) + fy * ((1f - fx) * v10 + fx * v11);
            }
        }
        a.Out[idx] = sum / (end - start);
    }

    static float WindowMean(ArrayView<float> map, int img, int c, int ch, int hh, int ww, int y, int x, int patch)
    {
        int pad = (patch - 1) / 2;
        float sum = 0f;
        for (int ky = 0; ky < patch; ky++)
        {
            int yy = y + ky - pad;
            if (yy < 0 || yy >= hh) continue;
            for (int kx = 0; kx < patch; kx++)
            {
                int xx = x + kx - pad;
                if (xx < 0 || xx >= ww) continue;
                sum += map[((img * c + ch) * hh + yy) * ww + xx];
            }
        }
        return sum / (patch * patch);
    }

    static void AggregateAnomalibKernel(Index1D index, AggregationArgs a)
    {
        int idx = index;
        int d = idx % a.Dim;
        int row = idx / a.Dim;
        int hw = a.H * a.W;
        int img = row / hw;
        int cell = row - img * hw;
        int y = cell / a.W, x = cell - y * a.W;
        float v;
        if (d < a.C2)
        {
            v = WindowMean(a.L2, img, a.C2, d, a.H, a.W, y, x, a.Patch);
        }
        else
        {
            // torch 'nearest': source = floor(dst * (in / out)) in float, clamped to the last cell.
            int sy = (int)(y * ((float)a.h / a.H)), sx = (int)(x * ((float)a.w / a.W));
            if (sy > a.h - 1) sy = a.h - 1;
            if (sx > a.w - 1) sx = a.w - 1;
            v = WindowMean(a.L3, img, a.C3, d - a.C2, a.h, a.w, sy, sx, a.Patch);
        }
        a.Out[idx] = v;
    }

    public DeviceTensor AggregatePatchFeatures(DeviceTensor layer2, DeviceTensor layer3, AggregationSpec spec)
    {
        OpContracts.AggregatePatchFeatures(layer2, layer3, spec);
        int n = layer2[0], h2 = layer2[2], w2 = layer2[3];
        int dim = spec.OutputDim(layer2[1], layer3[1]);
        var result = AllocateTensor(n * h2 * w2, dim);
        var args = new AggregationArgs
        {
            L2 = AsGpu(layer2).View, L3 = AsGpu(layer3).View, Out = result.View,
            C2 = layer2[1], H = h2, W = w2, C3 = layer3[1], h = layer3[2], w = layer3[3],
            Patch = spec.PatchSize, Pretrain = spec.PretrainDim, Target = spec.TargetDim, Dim = dim,
        };
        if (result.Length > 0)
        {
            if (spec.Mode == AggregationMode.Official) _aggregateOfficial((int)result.Length, args);
            else _aggregateAnomalib((int)result.Length, args);
        }
        return result;
    }
}
