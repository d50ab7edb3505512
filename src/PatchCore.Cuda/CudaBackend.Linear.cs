using static PatchCore.Backends.TrainingContracts;
using PatchCore.Backends;
using PatchCore.Cuda.Native;

namespace PatchCore.Cuda;

/// <summary>
/// The linear layer for training: three cuBLAS SGEMMs (full fp32), the bias added by kernels/conv2d.cu's
/// conv_epilogue (one "cell" per channel) and its gradient summed by channel_sum_f32. Row-major x [N, in],
/// weight [out, in], y [N, out]; each call spells its column-major mapping out (see Native/Cublas.cs).
/// Truth: Backends/Reference/Training/Linear.cs.
/// </summary>
public sealed unsafe partial class CudaBackend
{
    public DeviceTensor LinearForward(DeviceTensor x, DeviceTensor weight, DeviceTensor? bias)
    {
        var (n, inF, outF) = CheckLinear(x, weight);
        if (bias != null) RequireShape(bias, "linear bias", outF);
        var y = (CudaTensor)Allocate(n, outF);
        if (y.Length == 0) return y;
        // yᵀ [out x N] = W [out x in] · xᵀ: column-major W is [in x out] (ld in), so Sgemm(T, N, m = out, n = N,
        // k = in, A = W (lda = in), B = x (ldb = in), C = y (ldc = out)).
        Gemm(Cublas.CUBLAS_OP_T, Cublas.CUBLAS_OP_N, outF, n, inF, T(weight).Ptr, inF, T(x).Ptr, inF, y.Ptr, outF, "linear forward");
        if (bias != null)
            Launch("conv_epilogue", Grid(y.Length), 256, 0, [y.Ptr, T(bias).Ptr, 0UL, I(outF), I(1), I(y.Length), I(0)]);
        return y;
    }

    public LayerGradients LinearBackward(DeviceTensor dy, DeviceTensor x, DeviceTensor weight, bool inputGradient, bool biasGradient)
    {
        var (n, inF, outF) = CheckLinear(x, weight);
        RequireShape(dy, "linear output gradient", n, outF);
        CudaTensor? dx = null, db = null;
        if (inputGradient)
        {
            // dx [N, in] = dy [N, out] · W [out, in]: Sgemm(N, N, m = in, n = N, k = out, A = W (lda = in), B = dy (ldb = out)).
            dx = (CudaTensor)Allocate(x.Shape);
            Gemm(Cublas.CUBLAS_OP_N, Cublas.CUBLAS_OP_N, inF, n, outF, T(weight).Ptr, inF, T(dy).Ptr, outF, dx.Ptr, inF, "linear dx");
        }
        // dW [out, in] = dyᵀ [out, N] · x [N, in]; column-major dWᵀ [in x out] = xᵀ·dy:
        // Sgemm(N, T, m = in, n = out, k = N, A = x (lda = in), B = dy (ldb = out)).
        var dw = (CudaTensor)Allocate(weight.Shape);
        Gemm(Cublas.CUBLAS_OP_N, Cublas.CUBLAS_OP_T, inF, outF, n, T(x).Ptr, inF, T(dy).Ptr, outF, dw.Ptr, inF, "linear dW");
        if (biasGradient)
        {
            db = (CudaTensor)Allocate(outF);
            ChannelSum(T(dy).Ptr, db.Ptr, n, outF, 1);
        }
        return new LayerGradients(dx, dw, db);
    }

    /// <summary>C = α·op(A)·op(B) + β·C, column-major, full fp32; an empty sum (k = 0) with β = 0 gives zeros
    /// (C is then contiguous: ldc = m at every call site).</summary>
    void Gemm(int opA, int opB, int m, int n, int k, ulong a, int lda, ulong b, int ldb, ulong c, int ldc, string what,
              float alpha = 1f, float beta = 0f)
    {
        if (m == 0 || n == 0) return;
        Enter();
        if (k == 0)
        {
            if (beta == 0f) Check(_cu.cuMemsetD32_v2(c, 0, (nuint)((long)m * n)), "cuMemsetD32_v2");
            return;
        }
        _blas.Check(_blas.cublasSetMathMode(_blasHandle, Cublas.CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
        _blas.Check(_blas.cublasSgemm_v2(_blasHandle, opA, opB, m, n, k, &alpha, a, Math.Max(lda, 1), b, Math.Max(ldb, 1), &beta, c, Math.Max(ldc, 1)),
            $"cublasSgemm_v2({what})");
    }
}
