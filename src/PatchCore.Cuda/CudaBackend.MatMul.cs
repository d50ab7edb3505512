using PatchCore.Backends;
using PatchCore.Cuda.Native;

namespace PatchCore.Cuda;

/// <summary>MatMul: one cuBLAS SGEMM (no kernel of ours). CPU twin: Backends/Cpu/MatMul.cs.</summary>
public sealed unsafe partial class CudaBackend
{
    /// <summary>
    /// c [M, N] = a [M, K] · b [K, N], row-major, full fp32 (the projection feeds the coreset). Column-major:
    /// cᵀ [N x M] = bᵀ [N x K] · aᵀ [K x M] → Sgemm(N, N, m = N, n = M, k = K, A = b (lda = N), B = a (ldb = K), C = c (ldc = N)).
    /// </summary>
    public DeviceTensor MatMul(DeviceTensor a, DeviceTensor b)
    {
        var (m, k, n) = OpContracts.MatMul(a, b);
        var c = (CudaTensor)Allocate(m, n);
        if (m == 0 || n == 0) return c;
        if (k == 0) { Fill(c, 0f); return c; }
        Enter();
        _blas.Check(_blas.cublasSetMathMode(_blasHandle, Cublas.CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
        float alpha = 1f, beta = 0f;
        _blas.Check(_blas.cublasSgemm_v2(_blasHandle, Cublas.CUBLAS_OP_N, Cublas.CUBLAS_OP_N, n, m, k,
            &alpha, T(b).Ptr, n, T(a).Ptr, k, &beta, c.Ptr, n), "cublasSgemm_v2(matmul)");
        return c;
    }

    /// <summary>Raw SGEMM on device tensors for bench kernels' ceilings: c = a·b, square n x n, fp32 or TF32.</summary>
    public void SquareGemm(DeviceTensor a, DeviceTensor b, DeviceTensor c, int n, bool tf32)
    {
        Enter();
        _blas.Check(_blas.cublasSetMathMode(_blasHandle, tf32 ? Cublas.CUBLAS_TF32_TENSOR_OP_MATH : Cublas.CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
        float alpha = 1f, beta = 0f;
        _blas.Check(_blas.cublasSgemm_v2(_blasHandle, Cublas.CUBLAS_OP_N, Cublas.CUBLAS_OP_N, n, n, n,
            &alpha, T(a).Ptr, n, T(b).Ptr, n, &beta, T(c).Ptr, n), "cublasSgemm_v2(square)");
    }
}
