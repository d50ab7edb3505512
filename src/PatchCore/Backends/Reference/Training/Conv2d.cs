using static PatchCore.Backends.TrainingContracts;
namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public DeviceTensor Conv2dForward(DeviceTensor x, DeviceTensor weight, DeviceTensor? bias, ConvSpec spec)
    {
        var (n, h, w) = CheckTrainingConv(x, weight, spec);
        if (bias != null) RequireShape(bias, "conv bias", spec.OutChannels);
        var y = ReferenceTraining.Conv2dForward(Wide(x), n, h, w, Wide(weight), bias == null ? null : Wide(bias), spec);
        return Narrow(y, [n, spec.OutChannels, spec.OutH(h), spec.OutW(w)]);
    }

    public LayerGradients Conv2dBackward(DeviceTensor dy, DeviceTensor x, DeviceTensor weight, ConvSpec spec,
        bool inputGradient, bool biasGradient)
    {
        var (n, h, w) = CheckTrainingConv(x, weight, spec);
        int oh = spec.OutH(h), ow = spec.OutW(w);
        RequireShape(dy, "conv output gradient", n, spec.OutChannels, oh, ow);
        var dyd = Wide(dy);
        var dx = inputGradient ? Narrow(ReferenceTraining.Conv2dInputGradient(dyd, n, h, w, Wide(weight), spec), x.Shape) : null;
        var dw = Narrow(ReferenceTraining.Conv2dWeightGradient(dyd, Wide(x), n, h, w, spec), weight.Shape);
        var db = biasGradient ? Narrow(ReferenceTraining.Conv2dBiasGradient(dyd, n, spec.OutChannels, oh * ow), [spec.OutChannels]) : null;
        return new LayerGradients(dx, dw, db);
    }

}

public static partial class ReferenceTraining
{
    /// <summary>y[b, co, oy, ox] = bias[co] + Σ_{ci, ky, kx} w[co, ci, ky, kx]·x[b, ci, oy·s − padTop + ky, ox·s − padLeft + kx],
    /// cells outside x being zeros.</summary>
    public static double[] Conv2dForward(double[] x, int n, int h, int w, double[] weight, double[]? bias, ConvSpec s)
    {
        RequireLength(x, (long)n * s.InChannels * h * w, "conv input");
        RequireLength(weight, s.WeightLength, "conv weight");
        int oh = s.OutH(h), ow = s.OutW(w);
        var y = Output((long)n * s.OutChannels * oh * ow);
        for (int b = 0; b < n; b++)
        for (int co = 0; co < s.OutChannels; co++)
        for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
        {
            double acc = bias?[co] ?? 0;
            for (int ci = 0; ci < s.InChannels; ci++)
            for (int ky = 0; ky < s.KernelH; ky++)
            {
                int iy = oy * s.Stride - s.PadTop + ky;
                if (iy < 0 || iy >= h) continue;
                for (int kx = 0; kx < s.KernelW; kx++)
                {
                    int ix = ox * s.Stride - s.PadLeft + kx;
                    if (ix < 0 || ix >= w) continue;
                    acc += weight[((co * s.InChannels + ci) * s.KernelH + ky) * s.KernelW + kx] * x[(((long)b * s.InChannels + ci) * h + iy) * w + ix];
                }
            }
            y[(((long)b * s.OutChannels + co) * oh + oy) * ow + ox] = acc;
        }
        return y;
    }

    /// <summary>
    /// dx[b, ci, iy, ix] = Σ over the (co, ky, kx) whose window put x[iy, ix] under tap (ky, kx): those with
    /// oy = (iy + padTop − ky)/stride a whole number inside the output (same for x). Written as a gather, one
    /// sum per input cell, rather than as the scatter of the forward loops: the two derivations differ, so the
    /// finite-difference check tests the index algebra, not a copy of it. Cells no window covers get 0.
    /// </summary>
    public static double[] Conv2dInputGradient(double[] dy, int n, int h, int w, double[] weight, ConvSpec s)
    {
        int oh = s.OutH(h), ow = s.OutW(w);
        RequireLength(dy, (long)n * s.OutChannels * oh * ow, "conv output gradient");
        RequireLength(weight, s.WeightLength, "conv weight");
        var dx = Output((long)n * s.InChannels * h * w);
        for (int b = 0; b < n; b++)
        for (int ci = 0; ci < s.InChannels; ci++)
        for (int iy = 0; iy < h; iy++)
        for (int ix = 0; ix < w; ix++)
        {
            double acc = 0;
            for (int ky = 0; ky < s.KernelH; ky++)
            {
                int ty = iy + s.PadTop - ky;
                if (ty < 0 || ty % s.Stride != 0 || ty / s.Stride >= oh) continue;
                int oy = ty / s.Stride;
                for (int kx = 0; kx < s.KernelW; kx++)
                {
                    int tx = ix + s.PadLeft - kx;
                    if (tx < 0 || tx % s.Stride != 0 || tx / s.Stride >= ow) continue;
                    int ox = tx / s.Stride;
                    for (int co = 0; co < s.OutChannels; co++)
                        acc += weight[((co * s.InChannels + ci) * s.KernelH + ky) * s.KernelW + kx] * dy[(((long)b * s.OutChannels + co) * oh + oy) * ow + ox];
                }
            }
            dx[(((long)b * s.InChannels + ci) * h + iy) * w + ix] = acc;
        }
        return dx;
    }

    /// <summary>dW[co, ci, ky, kx] = Σ_{b, oy, ox} dy[b, co, oy, ox]·x[b, ci, oy·s − padTop + ky, ox·s − padLeft + kx].</summary>
    public static double[] Conv2dWeightGradient(double[] dy, double[] x, int n, int h, int w, ConvSpec s)
    {
        int oh = s.OutH(h), ow = s.OutW(w);
        RequireLength(dy, (long)n * s.OutChannels * oh * ow, "conv output gradient");
        RequireLength(x, (long)n * s.InChannels * h * w, "conv input");
        var dw = Output(s.WeightLength);
        for (int co = 0; co < s.OutChannels; co++)
        for (int ci = 0; ci < s.InChannels; ci++)
        for (int ky = 0; ky < s.KernelH; ky++)
        for (int kx = 0; kx < s.KernelW; kx++)
        {
            double acc = 0;
            for (int b = 0; b < n; b++)
            for (int oy = 0; oy < oh; oy++)
            {
                int iy = oy * s.Stride - s.PadTop + ky;
                if (iy < 0 || iy >= h) continue;
                for (int ox = 0; ox < ow; ox++)
                {
                    int ix = ox * s.Stride - s.PadLeft + kx;
                    if (ix < 0 || ix >= w) continue;
                    acc += dy[(((long)b * s.OutChannels + co) * oh + oy) * ow + ox] * x[(((long)b * s.InChannels + ci) * h + iy) * w + ix];
                }
            }
            dw[((co * s.InChannels + ci) * s.KernelH + ky) * s.KernelW + kx] = acc;
        }
        return dw;
    }

    /// <summary>db[co] = Σ_{b, cell} dy[b, co, cell]; also BN's dβ and linear's db (with cells = 1).</summary>
    public static double[] Conv2dBiasGradient(double[] dy, int n, int channels, int cells)
    {
        RequireLength(dy, (long)n * channels * cells, "output gradient");
        var db = Output(channels);
        for (int c = 0; c < channels; c++)
        {
            double acc = 0;
            for (int b = 0; b < n; b++)
            for (int i = 0; i < cells; i++) acc += dy[((long)b * channels + c) * cells + i];
            db[c] = acc;
        }
        return db;
    }
}
