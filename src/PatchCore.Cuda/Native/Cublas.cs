using System.Runtime.InteropServices;

namespace PatchCore.Cuda.Native;

/// <summary>
/// cuBLAS v2 (libcublas.so.13 / .12). cuBLAS is column-major: a row-major matrix X [r, c] with leading
/// dimension c IS the column-major matrix Xᵀ [c, r]. So a row-major product C = A·B is computed as the
/// column-major Cᵀ = Bᵀ·Aᵀ, i.e. cublasSgemm(N, N, m = cols(C), n = rows(C), k, B, ldb = cols(B), A,
/// lda = cols(A), C, ldc = cols(C)) — each call site spells its own mapping out.
/// </summary>
public sealed unsafe class Cublas
{
    public const int CUBLAS_OP_N = 0;
    public const int CUBLAS_OP_T = 1;
    public const int CUBLAS_DEFAULT_MATH = 0;
    public const int CUBLAS_TF32_TENSOR_OP_MATH = 3;

    public readonly string Path;
    readonly nint _lib;

    public readonly delegate* unmanaged<nint*, int> cublasCreate_v2;
    public readonly delegate* unmanaged<nint, int> cublasDestroy_v2;
    public readonly delegate* unmanaged<nint, nint, int> cublasSetStream_v2;
    public readonly delegate* unmanaged<nint, int, int> cublasSetMathMode;
    public readonly delegate* unmanaged<nint, int*, int> cublasGetVersion_v2;
    // cublasSgemm_v2(handle, transa, transb, m, n, k, alpha*, A, lda, B, ldb, beta*, C, ldc)
    public readonly delegate* unmanaged<nint, int, int, int, int, int, float*, ulong, int, ulong, int, float*, ulong, int, int> cublasSgemm_v2;
    // cublasSgemmStridedBatched(handle, transa, transb, m, n, k, alpha*, A, lda, strideA, B, ldb, strideB, beta*, C, ldc, strideC, batchCount)
    public readonly delegate* unmanaged<nint, int, int, int, int, int, float*, ulong, int, long, ulong, int, long, float*, ulong, int, long, int, int> cublasSgemmStridedBatched;
    readonly delegate* unmanaged<int, byte*> _statusName;
    readonly delegate* unmanaged<int, byte*> _statusString;

    Cublas(nint lib, string path)
    {
        _lib = lib;
        Path = path;
        cublasCreate_v2 = (delegate* unmanaged<nint*, int>)Get("cublasCreate_v2");
        cublasDestroy_v2 = (delegate* unmanaged<nint, int>)Get("cublasDestroy_v2");
        cublasSetStream_v2 = (delegate* unmanaged<nint, nint, int>)Get("cublasSetStream_v2");
        cublasSetMathMode = (delegate* unmanaged<nint, int, int>)Get("cublasSetMathMode");
        cublasGetVersion_v2 = (delegate* unmanaged<nint, int*, int>)Get("cublasGetVersion_v2");
        cublasSgemm_v2 = (delegate* unmanaged<nint, int, int, int, int, int, float*, ulong, int, ulong, int, float*, ulong, int, int>)Get("cublasSgemm_v2");
        cublasSgemmStridedBatched = (delegate* unmanaged<nint, int, int, int, int, int, float*, ulong, int, long, ulong, int, long, float*, ulong, int, long, int, int>)Get("cublasSgemmStridedBatched");
        // Present since cuBLAS 11.4; older libraries get the fixed table below.
        _statusName = NativeLibrary.TryGetExport(lib, "cublasGetStatusName", out var n) ? (delegate* unmanaged<int, byte*>)n : null;
        _statusString = NativeLibrary.TryGetExport(lib, "cublasGetStatusString", out var s) ? (delegate* unmanaged<int, byte*>)s : null;
    }

    nint Get(string name) =>
        NativeLibrary.TryGetExport(_lib, name, out var p) ? p : throw new CudaException($"{Path} lacks the export {name}");

    public static Cublas? TryLoad(IReadOnlyList<string> folders, out string reason, IReadOnlyList<int>? majors = null, bool bareNames = true)
    {
        if (LibraryProbe.Load("libcublas", folders, ["libcublasLt"], out var h, out var from, majors, bareNames))
        {
            try { reason = ""; return new Cublas(h, from); }
            catch (CudaException e) { reason = e.Message; return null; }
        }
        reason = "libcublas.so.13/.12 not found (default path, /usr/local/cuda*/lib64, site-packages/nvidia/*/lib)";
        return null;
    }

    public void Check(int status, string call)
    {
        if (status == 0) return;
        string? name = _statusName != null ? Marshal.PtrToStringUTF8((nint)_statusName(status)) : StatusName(status);
        string? text = _statusString != null ? Marshal.PtrToStringUTF8((nint)_statusString(status)) : null;
        throw new CudaException(CudaException.Format(call, status, name, text));
    }

    /// <summary>cublasStatus_t names (cublas_api.h) for libraries without cublasGetStatusName.</summary>
    public static string? StatusName(int status) => status switch
    {
        0 => "CUBLAS_STATUS_SUCCESS",
        1 => "CUBLAS_STATUS_NOT_INITIALIZED",
        3 => "CUBLAS_STATUS_ALLOC_FAILED",
        7 => "CUBLAS_STATUS_INVALID_VALUE",
        8 => "CUBLAS_STATUS_ARCH_MISMATCH",
        11 => "CUBLAS_STATUS_MAPPING_ERROR",
        13 => "CUBLAS_STATUS_EXECUTION_FAILED",
        14 => "CUBLAS_STATUS_INTERNAL_ERROR",
        15 => "CUBLAS_STATUS_NOT_SUPPORTED",
        16 => "CUBLAS_STATUS_LICENSE_ERROR",
        _ => null,
    };
}
