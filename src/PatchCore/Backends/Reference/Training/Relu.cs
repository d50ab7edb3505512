using static PatchCore.Backends.TrainingContracts;
namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    public DeviceTensor ReluBackward(DeviceTensor dy, DeviceTensor y)
    {
        RequireShape(dy, "ReLU output gradient", y.Shape);
        return Narrow(ReferenceTraining.ReluBackward(Wide(dy), Wide(y)), y.Shape);
    }
}

public static partial class ReferenceTraining
{
    /// <summary>max(x, 0) (the float64 twin of IBackend.Relu, for compositions in float64).</summary>
    public static double[] Relu(double[] x)
    {
        var y = Output(x.LongLength);
        for (long i = 0; i < x.LongLength; i++) y[i] = x[i] > 0 ? x[i] : 0;
        return y;
    }

    /// <summary>dx = dy where the OUTPUT y &gt; 0, else 0 (PyTorch's threshold_backward on the result; at x = 0 the
    /// gradient is 0).</summary>
    public static double[] ReluBackward(double[] dy, double[] y)
    {
        RequireLength(dy, y.LongLength, "ReLU output gradient");
        var dx = Output(y.LongLength);
        for (long i = 0; i < y.LongLength; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
        return dx;
    }

    /// <summary>a + b elementwise (the residual add in float64; its backward hands dy to both sides unchanged).</summary>
    public static double[] Add(double[] a, double[] b)
    {
        RequireLength(b, a.LongLength, "addend");
        var y = Output(a.LongLength);
        for (long i = 0; i < a.LongLength; i++) y[i] = a[i] + b[i];
        return y;
    }
}
