using static PatchCore.Backends.TrainingContracts;
namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public DeviceTensor LinearForward(DeviceTensor x, DeviceTensor weight, DeviceTensor? bias)
    {
        var (n, inF, outF) = CheckLinear(x, weight);
        if (bias != null) RequireShape(bias, "linear bias", outF);
        return Narrow(ReferenceTraining.LinearForward(Wide(x), n, inF, Wide(weight), bias == null ? null : Wide(bias), outF), [n, outF]);
    }

    public LayerGradients LinearBackward(DeviceTensor dy, DeviceTensor x, DeviceTensor weight, bool inputGradient, bool biasGradient)
    {
        var (n, inF, outF) = CheckLinear(x, weight);
        RequireShape(dy, "linear output gradient", n, outF);
        var dyd = Wide(dy);
        var dx = inputGradient ? Narrow(ReferenceTraining.LinearInputGradient(dyd, n, Wide(weight), inF, outF), x.Shape) : null;
        var dw = Narrow(ReferenceTraining.LinearWeightGradient(dyd, Wide(x), n, inF, outF), weight.Shape);
        var db = biasGradient ? Narrow(ReferenceTraining.Conv2dBiasGradient(dyd, n, outF, 1), [outF]) : null;
        return new LayerGradients(dx, dw, db);
    }

}

public static partial class ReferenceTraining
{
    /// <summary>y[r, o] = b[o] + Σ_i x[r, i]·W[o, i].</summary>
    public static double[] LinearForward(double[] x, int n, int inF, double[] weight, double[]? bias, int outF)
    {
        RequireLength(x, (long)n * inF, "linear input");
        RequireLength(weight, (long)outF * inF, "linear weight");
        var y = Output((long)n * outF);
        for (int r = 0; r < n; r++)
        for (int o = 0; o < outF; o++)
        {
            double acc = bias?[o] ?? 0;
            for (int i = 0; i < inF; i++) acc += x[(long)r * inF + i] * weight[(long)o * inF + i];
            y[(long)r * outF + o] = acc;
        }
        return y;
    }

    /// <summary>dx[r, i] = Σ_o dy[r, o]·W[o, i].</summary>
    public static double[] LinearInputGradient(double[] dy, int n, double[] weight, int inF, int outF)
    {
        RequireLength(dy, (long)n * outF, "linear output gradient");
        var dx = Output((long)n * inF);
        for (int r = 0; r < n; r++)
        for (int i = 0; i < inF; i++)
        {
            double acc = 0;
            for (int o = 0; o < outF; o++) acc += dy[(long)r * outF + o] * weight[(long)o * inF + i];
            dx[(long)r * inF + i] = acc;
        }
        return dx;
    }

    /// <summary>dW[o, i] = Σ_r dy[r, o]·x[r, i].</summary>
    public static double[] LinearWeightGradient(double[] dy, double[] x, int n, int inF, int outF)
    {
        RequireLength(dy, (long)n * outF, "linear output gradient");
        RequireLength(x, (long)n * inF, "linear input");
        var dw = Output((long)outF * inF);
        for (int o = 0; o < outF; o++)
        for (int i = 0; i < inF; i++)
        {
            double acc = 0;
            for (int r = 0; r < n; r++) acc += dy[(long)r * outF + o] * x[(long)r * inF + i];
            dw[(long)o * inF + i] = acc;
        }
        return dw;
    }
}
