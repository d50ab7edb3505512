namespace PatchCore.Backends.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>
    /// Official mode reorders the linear steps for speed (equal up to rounding): layer3's unfolded vectors are
    /// pooled to PretrainDim on layer3's own grid first, then bilinearly upsampled (upsampling and pooling
    /// commute, both linear), so the 9·C3-wide planes are never upsampled. Maps are transposed to channels-last
    /// so each cell's unfolded vector gathers contiguous channel runs. Threaded over grid rows.
    /// </summary>
    public DeviceTensor AggregatePatchFeatures(DeviceTensor layer2, DeviceTensor layer3, AggregationSpec spec)
    {
        var l2 = HostMemory.AsHost(layer2);
        var l3 = HostMemory.AsHost(layer3);
        OpContracts.AggregatePatchFeatures(l2, l3, spec);
        int n = l2[0], c2 = l2[1], h = l2[2], w = l2[3];
        int c3 = l3[1], h3 = l3[2], w3 = l3[3];
        int dim = spec.OutputDim(c2, c3);
        // Rented: both modes write every element (tests poison rented outputs to check).
        var output = HostMemory.Rent([n * h * w, dim]);
        if (output.Length == 0) return output;
        if (spec.Mode == AggregationMode.Anomalib) AggregateAnomalib(l2.Data, l3.Data, n, c2, h, w, c3, h3, w3, spec.PatchSize, output.Data);
        else AggregateOfficial(l2.Data, l3.Data, n, c2, h, w, c3, h3, w3, spec, output.Data);
        return output;
    }

    /// <summary>NCHW → NHWC into <paramref name="dst"/>, threaded over images × channels-last rows.</summary>
    void ToChannelsLast(float[] src, int n, int c, int h, int w, float[] dst)
    {
        System.Threading.Tasks.Parallel.For(0, n * h, Parallel, ny =>
        {
            int img = ny / h, y = ny % h;
            for (int ch = 0; ch < c; ch++)
            {
                long s = (((long)img * c + ch) * h + y) * w;
                long dd = (((long)img * h + y) * w) * c + ch;
                for (int x = 0; x < w; x++) dst[dd + (long)x * c] = src[s + x];
            }
        });
    }

    static (int[] Start, int[] End) Bins(int inLength, int outLength)
    {
        var s = new int[outLength];
        var e = new int[outLength];
        for (int i = 0; i < outLength; i++) Resampling.AdaptiveBin(i, inLength, outLength, out s[i], out e[i]);
        return (s, e);
    }

    static void PoolBins(ReadOnlySpan<float> input, Span<float> output, int[] start, int[] end)
    {
        for (int i = 0; i < output.Length; i++)
        {
            int s = start[i], e = end[i];
            float sum = 0;
            for (int j = s; j < e; j++) sum += input[j];
            output[i] = sum / (e - s);
        }
    }

    /// <summary>The p·p·C unfolded vector (index c·p² + ky·p + kx) at (y, x) of a channels-last map, zero padded.</summary>
    static void Unfold(float[] hwc, int img, int c, int h, int w, int y, int x, int p, Span<float> u)
    {
        int pad = (p - 1) / 2, taps = p * p;
        for (int ky = 0; ky < p; ky++)
        {
            int sy = y + ky - pad;
            for (int kx = 0; kx < p; kx++)
            {
                int sx = x + kx - pad, tap = ky * p + kx;
                if (sy < 0 || sy >= h || sx < 0 || sx >= w)
                {
                    for (int ch = 0; ch < c; ch++) u[ch * taps + tap] = 0;
                    continue;
                }
                var src = hwc.AsSpan((int)((((long)img * h + sy) * w + sx) * c), c);
                for (int ch = 0; ch < c; ch++) u[ch * taps + tap] = src[ch];
            }
        }
    }

    void AggregateOfficial(float[] a, float[] b, int n, int c2, int h, int w, int c3, int h3, int w3,
        AggregationSpec spec, float[] o)
    {
        int p = spec.PatchSize, taps = p * p, pre = spec.PretrainDim, dim = spec.TargetDim;
        int len2 = c2 * taps, len3 = c3 * taps;
        var bins2 = Bins(len2, pre);
        var bins3 = Bins(len3, pre);
        var binsT = Bins(2 * pre, dim);
        // Scratch from the host pool: fresh arrays of this size cost more in page faults than the work itself.
        using var t2 = HostMemory.Rent([n * h * w * c2]);
        using var t3 = HostMemory.Rent([n * h3 * w3 * c3]);
        using var tp = HostMemory.Rent([n * h3 * w3 * pre]);
        float[] a2 = t2.Data, a3 = t3.Data, pooled3 = tp.Data;
        ToChannelsLast(a, n, c2, h, w, a2);
        ToChannelsLast(b, n, c3, h3, w3, a3);

        // layer3: unfold + pool on its own grid → pooled3[n, h3, w3, pre].
        System.Threading.Tasks.Parallel.For(0, n * h3, Parallel, () => new float[len3], (ny, _, u) =>
        {
            int img = ny / h3, y = ny % h3;
            for (int x = 0; x < w3; x++)
            {
                Unfold(a3, img, c3, h3, w3, y, x, p, u);
                PoolBins(u, pooled3.AsSpan((int)((((long)img * h3 + y) * w3 + x) * pre), pre), bins3.Start, bins3.End);
            }
            return u;
        }, _ => { });

        // layer2 cells: unfold + pool, bilinear of pooled layer3, stack, pool to the target dimension.
        System.Threading.Tasks.Parallel.For(0, n * h, Parallel, () => (new float[len2], new float[2 * pre]), (ny, _, scratch) =>
        {
            var (u, stacked) = scratch;
            int img = ny / h, y = ny % h;
            Resampling.BilinearTap(y, h3, h, out int y0, out int y1, out float ly);
            for (int x = 0; x < w; x++)
            {
                Unfold(a2, img, c2, h, w, y, x, p, u);
                PoolBins(u, stacked.AsSpan(0, pre), bins2.Start, bins2.End);
                Resampling.BilinearTap(x, w3, w, out int x0, out int x1, out float lx);
                var p00 = pooled3.AsSpan((int)((((long)img * h3 + y0) * w3 + x0) * pre), pre);
                var p01 = pooled3.AsSpan((int)((((long)img * h3 + y0) * w3 + x1) * pre), pre);
                var p10 = pooled3.AsSpan((int)((((long)img * h3 + y1) * w3 + x0) * pre), pre);
                var p11 = pooled3.AsSpan((int)((((long)img * h3 + y1) * w3 + x1) * pre), pre);
                float w00 = (1 - ly) * (1 - lx), w01 = (1 - ly) * lx, w10 = ly * (1 - lx), w11 = ly * lx;
                var up = stacked.AsSpan(pre, pre);
                System.Numerics.Tensors.TensorPrimitives.Multiply(p00, w00, up);
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(p01, w01, up, up);
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(p10, w10, up, up);
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(p11, w11, up, up);
                long row = ((long)img * h + y) * w + x;
                PoolBins(stacked, o.AsSpan((int)(row * dim), dim), binsT.Start, binsT.End);
            }
            return scratch;
        }, _ => { });
    }

    void AggregateAnomalib(float[] a, float[] b, int n, int c2, int h, int w, int c3, int h3, int w3, int p, float[] o)
    {
        int dim = c2 + c3, pad = (p - 1) / 2;
        float inv = 1f / (p * p);
        // Output row (n, y, x) = [avgpool(layer2)(y, x) | avgpool(layer3)(nearest(y), nearest(x))].
        System.Threading.Tasks.Parallel.For(0, n * h, Parallel, ny =>
        {
            int img = ny / h, y = ny % h, sy3 = Resampling.NearestTap(y, h3, h);
            for (int x = 0; x < w; x++)
            {
                long row = ((long)img * h + y) * w + x;
                int sx3 = Resampling.NearestTap(x, w3, w);
                for (int c = 0; c < c2; c++) o[row * dim + c] = BoxMean(a, img, c, c2, h, w, y, x, p, pad) * inv;
                for (int c = 0; c < c3; c++) o[row * dim + c2 + c] = BoxMean(b, img, c, c3, h3, w3, sy3, sx3, p, pad) * inv;
            }
        });
    }

    static float BoxMean(float[] src, int img, int c, int channels, int h, int w, int y, int x, int p, int pad)
    {
        long plane = ((long)img * channels + c) * h * w;
        float s = 0;
        for (int ky = 0; ky < p; ky++)
        {
            int sy = y + ky - pad;
            if (sy < 0 || sy >= h) continue;
            for (int kx = 0; kx < p; kx++)
            {
                int sx = x + kx - pad;
                if (sx >= 0 && sx < w) s += src[plane + sy * w + sx];
            }
        }
        return s;
    }
}
