using ILGPU;
using ILGPU.Runtime;
using PatchCore.Backends;

namespace PatchCore.Gpu;

// MatMul (the coreset's random projection) on the shared tiled GEMM.
public sealed partial class GpuBackend
{
    Action<KernelConfig, RowMajorA, RowMajorB, PlainStore, int, int, int> _matMul = null!;

    void LoadGemm()
    {
        LoadConv();
        _matMul = _accelerator.LoadStreamKernel<RowMajorA, RowMajorB, PlainStore, int, int, int>(
            TiledGemm.Kernel<RowMajorA, RowMajorB, PlainStore>);
        LoadDistances();
    }

    public DeviceTensor MatMul(DeviceTensor a, DeviceTensor b)
    {
        OpContracts.MatMul(a, b);
        var c = AllocateTensor(a[0], b[1]);
        MatMulInto(AsGpu(a), AsGpu(b), c);
        return c;
    }

    internal void MatMulInto(GpuTensor a, GpuTensor b, GpuTensor c)
    {
        int m = a[0], k = a[1], n = b[1];
        if (m == 0 || n == 0) return;
        if (k == 0) { Fill(c.View, 0f); return; }
        _matMul(TiledGemm.Config(m, n),
            new RowMajorA { A = a.View, M = m, K = k },
            new RowMajorB { B = b.View, K = k, N = n },
            new PlainStore { C = c.View, Ldc = n }, m, n, k);
    }
}
