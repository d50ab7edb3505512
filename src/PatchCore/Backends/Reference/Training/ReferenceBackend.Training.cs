using static PatchCore.Backends.TrainingContracts;
namespace PatchCore.Backends.Reference;

/// <summary>
/// The reference backend trains too: each training op has a float64 entry in <see cref="ReferenceTraining"/>
/// (plain loops on double[], the truth the gradient checks run on with finite differences) and a float32
/// <see cref="ITrainingBackend"/> op here that widens its inputs, calls that entry and narrows the result.
/// One file per op in this folder holds both.
/// </summary>
public sealed partial class ReferenceBackend : ITrainingBackend
{
    /// <summary>A float32 tensor widened to double.</summary>
    static double[] Wide(DeviceTensor t)
    {
        var s = HostMemory.AsHost(t).Span;
        var d = new double[s.Length];
        for (int i = 0; i < s.Length; i++) d[i] = s[i];
        return d;
    }

    /// <summary>A new float32 tensor holding values (allocated through HostMemory, so poisoned under test first).</summary>
    static HostDeviceTensor Narrow(double[] values, int[] shape)
    {
        var t = HostMemory.Allocate(shape);
        if (values.LongLength != t.Length) throw new InvalidOperationException($"op produced {values.Length} values for {t.ShapeString}");
        for (int i = 0; i < values.Length; i++) t.Data[i] = (float)values[i];
        return t;
    }

    /// <summary>Writes double values back into an existing float32 tensor (the in-place state of BN and optimisers).</summary>
    static void Store(double[] values, DeviceTensor into)
    {
        var s = HostMemory.AsHost(into).Span;
        for (int i = 0; i < s.Length; i++) s[i] = (float)values[i];
    }

}

/// <summary>
/// Float64 entries of the reference training ops: plain loops on double[], every output array starting as NaN
/// (<see cref="Output"/>) so an element a loop forgets to write shows up in any check. Shapes are passed as
/// explicit sizes; layouts as in <see cref="ITrainingBackend"/>.
/// </summary>
public static partial class ReferenceTraining
{
    /// <summary>A fresh output array poisoned with NaN: every element must be written by the op.</summary>
    static double[] Output(long length)
    {
        var a = new double[length];
        Array.Fill(a, double.NaN);
        return a;
    }

    static void RequireLength(double[] a, long length, string what)
    {
        if (a.LongLength != length) throw new ArgumentException($"{what} has {a.LongLength} values, expected {length}");
    }
}
