using ILGPU;
using ILGPU.Runtime;
using PatchCore.Backends;

namespace PatchCore.Gpu;

// Squared distances as |q|² + |x|² - 2 q·x: the cross term is a GEMM (the FLOPs), the norms a cheap pass.
// Computing (q - x)² directly would need every query-row pair to stream both rows: no reuse, memory bound.
public sealed partial class GpuBackend
{
    Action<KernelConfig, RowMajorA, RowsAsColumnsB, SquaredDistanceStore, int, int, int> _distanceGemm = null!;
    Action<Index1D, ArrayView<float>, ArrayView<float>, int> _rowNorms = null!;

    void LoadDistances()
    {
        _distanceGemm = _accelerator.LoadStreamKernel<RowMajorA, RowsAsColumnsB, SquaredDistanceStore, int, int, int>(
            TiledGemm.Kernel<RowMajorA, RowsAsColumnsB, SquaredDistanceStore>);
        _rowNorms = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int>(RowNormsKernel);
    }

    // One thread per row: rows are read with a stride, but the pass is tiny next to the GEMM it feeds.
    static void RowNormsKernel(Index1D row, ArrayView<float> x, ArrayView<float> norms, int dim)
    {
        float s = 0f;
        int b = row * dim;
        for (int j = 0; j < dim; j++) { float v = x[b + j]; s += v * v; }
        norms[row] = s;
    }

    internal void RowNorms(ArrayView<float> x, int rows, int dim, ArrayView<float> norms)
    {
        if (rows > 0) _rowNorms(rows, x, norms, dim);
    }

    public DeviceTensor PairwiseSquaredDistances(DeviceTensor queries, DeviceTensor database)
    {
        var (m, k, d) = OpContracts.PairwiseSquaredDistances(queries, database);
        var result = AllocateTensor(m, k);
        using var qn = _accelerator.Allocate1D<float>(Math.Max(1, m));
        using var xn = _accelerator.Allocate1D<float>(Math.Max(1, k));
        var q = AsGpu(queries).View; var x = AsGpu(database).View;
        RowNorms(q, m, d, qn.View);
        RowNorms(x, k, d, xn.View);
        DistanceGemm(q, m, x, k, d, qn.View, xn.View, result.View, k);
        // The scratch norms are freed when this returns: wait for the kernels that read them.
        _accelerator.Synchronize();
        return result;
    }

    /// <summary>C[i, j] = |a_i - b_j|² for a [rows, dim], b [cols, dim], written with leading dimension ldc.</summary>
    internal void DistanceGemm(ArrayView<float> a, int rows, ArrayView<float> b, int cols, int dim,
        ArrayView<float> aNorms, ArrayView<float> bNorms, ArrayView<float> c, int ldc)
    {
        if (rows == 0 || cols == 0) return;
        _distanceGemm(TiledGemm.Config(rows, cols),
            new RowMajorA { A = a, M = rows, K = dim },
            new RowsAsColumnsB { X = b, K = dim, N = cols },
            new SquaredDistanceStore { C = c, RowNorms = aNorms, ColNorms = bNorms, Ldc = ldc }, rows, cols, dim);
    }
}
