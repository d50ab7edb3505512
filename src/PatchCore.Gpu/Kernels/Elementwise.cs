using ILGPU;
using ILGPU.Runtime;
using PatchCore.Backends;

namespace PatchCore.Gpu;

// Elementwise ops: one thread per element, auto-grouped (memory bound, nothing to tile).
public sealed partial class GpuBackend
{
    Action<Index1D, ArrayView<float>, float> _fill = null!;
    Action<Index1D, ArrayView<float>, ArrayView<float>> _relu = null!;
    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>> _add = null!;

    void LoadElementwise()
    {
        _fill = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, float>(FillKernel);
        _relu = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>>(ReluKernel);
        _add = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(AddKernel);
    }

    static void FillKernel(Index1D i, ArrayView<float> y, float value) => y[i] = value;

    // max(x, 0) written as a compare so NaN stays NaN (a poisoned input must not turn into a valid zero).
    static void ReluKernel(Index1D i, ArrayView<float> x, ArrayView<float> y)
    {
        float v = x[i];
        y[i] = v < 0f ? 0f : v;
    }

    static void AddKernel(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y) => y[i] = a[i] + b[i];

    internal void Fill(ArrayView<float> y, float value)
    {
        if (y.Length > 0) _fill((int)y.Length, y, value);
    }

    public DeviceTensor Relu(DeviceTensor x)
    {
        var gx = AsGpu(x);
        var y = AllocateTensor(x.Shape);
        if (y.Length > 0) _relu((int)y.Length, gx.View, y.View);
        return y;
    }

    public DeviceTensor Add(DeviceTensor a, DeviceTensor b)
    {
        var ga = AsGpu(a); var gb = AsGpu(b);
        OpContracts.Add(a, b);
        var y = AllocateTensor(a.Shape);
        if (y.Length > 0) _add((int)y.Length, ga.View, gb.View, y.View);
        return y;
    }
}
