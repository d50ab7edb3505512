namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    /// <summary>
    /// Literal order of ALGORITHM.md "Patch features": unfold both layers, bilinearly upsample layer3's unfolded
    /// planes to layer2's grid, adaptive-average-pool each layer's C*p*p vector to PretrainDim, stack and pool
    /// again to TargetDim. Doubles throughout; slow on purpose.
    /// </summary>
    public DeviceTensor AggregatePatchFeatures(DeviceTensor layer2, DeviceTensor layer3, AggregationSpec spec)
    {
        var l2 = HostMemory.AsHost(layer2);
        var l3 = HostMemory.AsHost(layer3);
        OpContracts.AggregatePatchFeatures(l2, l3, spec);
        int n = l2[0], c2 = l2[1], h = l2[2], w = l2[3];
        int c3 = l3[1], h3 = l3[2], w3 = l3[3];
        int dim = spec.OutputDim(c2, c3);
        var output = HostMemory.Allocate([n * h * w, dim]);
        var o = output.Data;
        var a = l2.Data;
        var b = l3.Data;

        if (spec.Mode == AggregationMode.Anomalib)
        {
            int p = spec.PatchSize, pad = (p - 1) / 2;
            var pooled2 = AvgPoolPlanes(a, n * c2, h, w, p, pad);
            var pooled3 = AvgPoolPlanes(b, n * c3, h3, w3, p, pad);
            for (int img = 0; img < n; img++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                    {
                        long row = ((long)img * h + y) * w + x;
                        int sy = Resampling.NearestTap(y, h3, h), sx = Resampling.NearestTap(x, w3, w);
                        for (int c = 0; c < c2; c++)
                            o[row * dim + c] = (float)pooled2[(((long)img * c2 + c) * h + y) * w + x];
                        for (int c = 0; c < c3; c++)
                            o[row * dim + c2 + c] = (float)pooled3[(((long)img * c3 + c) * h3 + sy) * w3 + sx];
                    }
            return output;
        }

        int ps = spec.PatchSize, pd = (ps - 1) / 2, taps = ps * ps;
        int len2 = c2 * taps, len3 = c3 * taps;
        // 1. unfold: plane (c*taps + ky*p + kx) at each grid cell, zero padding.
        double[] u2 = Unfold(a, n, c2, h, w, ps, pd);
        double[] u3 = Unfold(b, n, c3, h3, w3, ps, pd);
        // 2. bilinear upsampling of layer3's unfolded planes to layer2's grid.
        double[] u3up = new double[(long)n * len3 * h * w];
        for (int plane = 0; plane < n * len3; plane++)
            for (int y = 0; y < h; y++)
            {
                Resampling.BilinearTap(y, h3, h, out int y0, out int y1, out float ly);
                for (int x = 0; x < w; x++)
                {
                    Resampling.BilinearTap(x, w3, w, out int x0, out int x1, out float lx);
                    long bas = (long)plane * h3 * w3;
                    double v = (1 - (double)ly) * ((1 - (double)lx) * u3[bas + y0 * w3 + x0] + lx * u3[bas + y0 * w3 + x1])
                             + ly * ((1 - (double)lx) * u3[bas + y1 * w3 + x0] + lx * u3[bas + y1 * w3 + x1]);
                    u3up[((long)plane * h + y) * w + x] = v;
                }
            }
        // 3./4. per grid cell: pool each layer's vector to PretrainDim, stack, pool to TargetDim.
        int pre = spec.PretrainDim;
        var v2 = new double[len2];
        var v3 = new double[len3];
        var stacked = new double[2 * pre];
        for (int img = 0; img < n; img++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    for (int i = 0; i < len2; i++) v2[i] = u2[(((long)img * len2 + i) * h + y) * w + x];
                    for (int i = 0; i < len3; i++) v3[i] = u3up[(((long)img * len3 + i) * h + y) * w + x];
                    AdaptivePool(v2, stacked.AsSpan(0, pre));
                    AdaptivePool(v3, stacked.AsSpan(pre, pre));
                    long row = ((long)img * h + y) * w + x;
                    var outRow = new double[dim];
                    AdaptivePool(stacked, outRow);
                    for (int i = 0; i < dim; i++) o[row * dim + i] = (float)outRow[i];
                }
        return output;
    }

    static double[] Unfold(float[] src, int n, int c, int h, int w, int p, int pad)
    {
        int taps = p * p;
        var u = new double[(long)n * c * taps * h * w];
        for (int img = 0; img < n; img++)
            for (int ch = 0; ch < c; ch++)
                for (int ky = 0; ky < p; ky++)
                    for (int kx = 0; kx < p; kx++)
                    {
                        long plane = ((long)img * c + ch) * taps + ky * p + kx;
                        for (int y = 0; y < h; y++)
                            for (int x = 0; x < w; x++)
                            {
                                int sy = y + ky - pad, sx = x + kx - pad;
                                u[(plane * h + y) * w + x] = sy >= 0 && sy < h && sx >= 0 && sx < w
                                    ? src[(((long)img * c + ch) * h + sy) * w + sx] : 0.0;
                            }
                    }
        return u;
    }

    static double[] AvgPoolPlanes(float[] src, int planes, int h, int w, int p, int pad)
    {
        var r = new double[(long)planes * h * w];
        for (int pl = 0; pl < planes; pl++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    double s = 0;
                    for (int ky = 0; ky < p; ky++)
                        for (int kx = 0; kx < p; kx++)
                        {
                            int sy = y + ky - pad, sx = x + kx - pad;
                            if (sy >= 0 && sy < h && sx >= 0 && sx < w) s += src[((long)pl * h + sy) * w + sx];
                        }
                    r[((long)pl * h + y) * w + x] = s / (p * p); // count_include_pad
                }
        return r;
    }

    static void AdaptivePool(ReadOnlySpan<double> input, Span<double> output)
    {
        for (int i = 0; i < output.Length; i++)
        {
            Resampling.AdaptiveBin(i, input.Length, output.Length, out int s, out int e);
            double sum = 0;
            for (int j = s; j < e; j++) sum += input[j];
            output[i] = sum / (e - s);
        }
    }
}
