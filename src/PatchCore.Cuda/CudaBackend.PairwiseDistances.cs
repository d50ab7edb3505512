using PatchCore.Backends;
using PatchCore.Cuda.Native;

namespace PatchCore.Cuda;

/// <summary>PairwiseSquaredDistances (kernels/pairwise_distances.cu), and the row norms and -2 q·x GEMM that
/// NearestNeighbours shares. CPU twin: Backends/Cpu/PairwiseDistances.cs.</summary>
public sealed unsafe partial class CudaBackend
{
    void RowNorms(ulong x, ulong norms, int rows, int dim) =>
        Launch("row_sqnorms", Grid((long)rows * 32), 256, 0, [x, norms, I(rows), I(dim)]);

    /// <summary>
    /// g [M, K] (row stride ldg) = -2 q·xᵀ for q [M, D], x [K, D] row-major. Column-major cuBLAS sees gᵀ [K x M] =
    /// x (as Xᵀ [D x K] with ld D, op T) · qᵀ [D x M] (ld D, op N): Sgemm(T, N, m = K, n = M, k = D, A = x, lda = D,
    /// B = q, ldb = D, C = g, ldc = ldg). Full fp32: TF32 would ruin small distances next to large norms.
    /// </summary>
    void CrossTerm(ulong q, int m, ulong x, int k, int d, ulong g, int ldg)
    {
        _blas.Check(_blas.cublasSetMathMode(_blasHandle, Cublas.CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
        float alpha = -2f, beta = 0f;
        _blas.Check(_blas.cublasSgemm_v2(_blasHandle, Cublas.CUBLAS_OP_T, Cublas.CUBLAS_OP_N, k, m, d,
            &alpha, x, d, q, d, &beta, g, ldg), "cublasSgemm_v2(distances)");
    }

    public DeviceTensor PairwiseSquaredDistances(DeviceTensor queries, DeviceTensor database)
    {
        var (m, k, d) = OpContracts.PairwiseSquaredDistances(queries, database);
        var y = (CudaTensor)Allocate(m, k);
        if (m == 0 || k == 0) return y;
        using var qn = AllocBuffer(m * 4L);
        using var xn = AllocBuffer(k * 4L);
        RowNorms(T(queries).Ptr, qn.Ptr, m, d);
        RowNorms(T(database).Ptr, xn.Ptr, k, d);
        if (d == 0) Fill(y, 0f);
        else CrossTerm(T(queries).Ptr, m, T(database).Ptr, k, d, y.Ptr, k);
        Launch("finalize_distances", Grid(y.Length), 256, 0, [y.Ptr, qn.Ptr, xn.Ptr, I(m), I(k)]);
        Synchronize(); // qn/xn are freed on return
        return y;
    }
}
