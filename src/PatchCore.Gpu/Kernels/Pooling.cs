using ILGPU;
using ILGPU.Runtime;
using PatchCore.Backends;

namespace PatchCore.Gpu;

// Pooling: one thread per output element. Neighbouring threads own neighbouring output columns, so the
// window reads of a warp are nearly contiguous rows of the input (coalesced up to the stride).
public sealed partial class GpuBackend
{
    /// <summary>Pool geometry passed by value to the kernels (ILGPU kernel parameters must be unmanaged).</summary>
    internal struct PoolGeometry
    {
        public int H, W, OH, OW, Kernel, Stride, PadTop, PadLeft;
    }

    Action<Index1D, ArrayView<float>, ArrayView<float>, PoolGeometry> _maxPool = null!;
    Action<Index1D, ArrayView<float>, ArrayView<float>, PoolGeometry> _avgPool = null!;
    Action<Index1D, ArrayView<float>, ArrayView<float>, int> _globalAvgPool = null!;

    void LoadPooling()
    {
        _maxPool = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, PoolGeometry>(MaxPoolKernel);
        _avgPool = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, PoolGeometry>(AvgPoolKernel);
        _globalAvgPool = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int>(GlobalAvgPoolKernel);
    }

    // Padded cells are skipped (as -inf): a window is never entirely padding for valid specs.
    static void MaxPoolKernel(Index1D i, ArrayView<float> x, ArrayView<float> y, PoolGeometry g)
    {
        int ox = i % g.OW;
        int t = i / g.OW;
        int oy = t % g.OH;
        int plane = t / g.OH;
        int y0 = oy * g.Stride - g.PadTop, x0 = ox * g.Stride - g.PadLeft;
        int baseIdx = plane * g.H * g.W;
        float best = float.NegativeInfinity;
        for (int ky = 0; ky < g.Kernel; ky++)
        {
            int yy = y0 + ky;
            if (yy < 0 || yy >= g.H) continue;
            for (int kx = 0; kx < g.Kernel; kx++)
            {
                int xx = x0 + kx;
                if (xx < 0 || xx >= g.W) continue;
                float v = x[baseIdx + yy * g.W + xx];
                // "!(v <= best)" also takes NaN, so a NaN input propagates like PyTorch's max pool.
                if (!(v <= best)) best = v;
            }
        }
        y[i] = best;
    }

    // Padded cells count as zeros: the divisor is always Kernel² (count_include_pad).
    static void AvgPoolKernel(Index1D i, ArrayView<float> x, ArrayView<float> y, PoolGeometry g)
    {
        int ox = i % g.OW;
        int t = i / g.OW;
        int oy = t % g.OH;
        int plane = t / g.OH;
        int y0 = oy * g.Stride - g.PadTop, x0 = ox * g.Stride - g.PadLeft;
        int baseIdx = plane * g.H * g.W;
        float sum = 0f;
        for (int ky = 0; ky < g.Kernel; ky++)
        {
            int yy = y0 + ky;
            if (yy < 0 || yy >= g.H) continue;
            for (int kx = 0; kx < g.Kernel; kx++)
            {
                int xx = x0 + kx;
                if (xx < 0 || xx >= g.W) continue;
                sum += x[baseIdx + yy * g.W + xx];
            }
        }
        y[i] = sum / (g.Kernel * g.Kernel);
    }

    // One thread per plane: planes at the end of a ResNet are small (7x7, 14x14), a tree reduction would
    // cost more in synchronisation than it saves.
    static void GlobalAvgPoolKernel(Index1D plane, ArrayView<float> x, ArrayView<float> y, int hw)
    {
        float sum = 0f;
        int b = plane * hw;
        for (int j = 0; j < hw; j++) sum += x[b + j];
        y[plane] = sum / hw;
    }

    static PoolGeometry Geometry(DeviceTensor x, PoolSpec p, (int OH, int OW) outSize)
    {
        var (oh, ow) = outSize;
        return new PoolGeometry { H = x[2], W = x[3], OH = oh, OW = ow, Kernel = p.Kernel, Stride = p.Stride, PadTop = p.PadTop, PadLeft = p.PadLeft };
    }

    public DeviceTensor MaxPool2d(DeviceTensor x, PoolSpec pool)
    {
        var g = Geometry(x, pool, OpContracts.MaxPool2d(x, pool));
        var y = AllocateTensor(x[0], x[1], g.OH, g.OW);
        if (y.Length > 0) _maxPool((int)y.Length, AsGpu(x).View, y.View, g);
        return y;
    }

    public DeviceTensor AvgPool2d(DeviceTensor x, PoolSpec pool)
    {
        var g = Geometry(x, pool, OpContracts.AvgPool2d(x, pool));
        var y = AllocateTensor(x[0], x[1], g.OH, g.OW);
        if (y.Length > 0) _avgPool((int)y.Length, AsGpu(x).View, y.View, g);
        return y;
    }

    public DeviceTensor GlobalAvgPool(DeviceTensor x)
    {
        OpContracts.GlobalAvgPool(x);
        var y = AllocateTensor(x[0], x[1]);
        if (y.Length > 0) _globalAvgPool((int)y.Length, AsGpu(x).View, y.View, x[2] * x[3]);
        return y;
    }
}
