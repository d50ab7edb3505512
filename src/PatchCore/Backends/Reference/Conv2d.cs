namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    /// <summary>The reference keeps the weights exactly as given: [Cout, Cin, Kh, Kw] and [Cout].</summary>
    sealed class RefConv(ConvSpec spec, float[] weight, float[] bias) : ConvLayer(spec)
    {
        public float[] Weight { get; } = weight;
        public float[] Bias { get; } = bias;
    }

    public ConvLayer CreateConv(ConvSpec spec, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias)
    {
        OpContracts.CreateConv(spec, weight.Length, bias.Length);
        return new RefConv(spec, weight.ToArray(), bias.ToArray());
    }

    public DeviceTensor Conv2d(DeviceTensor x, ConvLayer conv, DeviceTensor? residual = null, bool relu = false)
    {
        var (oh, ow) = OpContracts.Conv2d(x, conv.Spec, residual);
        var c = conv as RefConv ?? throw new ArgumentException("conv layer does not belong to the reference backend");
        var s = c.Spec;
        var xin = HostMemory.AsHost(x);
        int n = x[0], h = x[2], w = x[3];
        var y = HostMemory.Allocate([n, s.OutChannels, oh, ow]);
        float[]? res = null;
        if (residual != null)
        {
            res = HostMemory.AsHost(residual).Data;
        }
        float[] xd = xin.Data, wd = c.Weight, yd = y.Data;
        for (int b = 0; b < n; b++)
        for (int co = 0; co < s.OutChannels; co++)
        for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
        {
            double acc = c.Bias[co];
            for (int ci = 0; ci < s.InChannels; ci++)
            for (int ky = 0; ky < s.KernelH; ky++)
            {
                int iy = oy * s.Stride - s.PadTop + ky;
                if (iy < 0 || iy >= h) continue; // padded rows are zeros
                for (int kx = 0; kx < s.KernelW; kx++)
                {
                    int ix = ox * s.Stride - s.PadLeft + kx;
                    if (ix < 0 || ix >= w) continue;
                    acc += (double)wd[((co * s.InChannels + ci) * s.KernelH + ky) * s.KernelW + kx]
                         * xd[((b * s.InChannels + ci) * h + iy) * w + ix];
                }
            }
            long o = (((long)b * s.OutChannels + co) * oh + oy) * ow + ox;
            if (res != null) acc += res[o];
            if (relu && acc < 0) acc = 0;
            yd[o] = (float)acc;
        }
        return y;
    }
}
