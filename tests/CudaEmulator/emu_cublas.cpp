// libcublas.so.12 of the CUDA emulator (tests/CudaEmulator/README.md): SGEMM and strided-batched SGEMM with
// cuBLAS's column-major semantics, written from the cuBLAS documentation rather than from the backend's call
// sites, so that a wrong transpose, leading dimension or stride there fails the tests. Arguments are checked
// as cuBLAS checks them (CUBLAS_STATUS_INVALID_VALUE). With beta = 0, C is not read (it may hold NaN). Under
// CUBLAS_TF32_TENSOR_OP_MATH, A and B are rounded to TF32 (10 mantissa bits) first, as tensor cores do.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>
#include <cstdio>
#include <string>
#include <dlfcn.h>

#define API extern "C" __attribute__((visibility("default")))

namespace
{
enum : int { SUCCESS = 0, NOT_INITIALIZED = 1, INVALID_VALUE = 7, EXECUTION_FAILED = 13 };
struct Handle { void* stream; int mathMode; };

float tf32(float v)
{
    uint32_t b;
    std::memcpy(&b, &v, 4);
    if ((b & 0x7f800000u) == 0x7f800000u) return v;   // Inf, NaN unchanged
    b = (b + 0x1000u) & ~0x1fffu;                        // round to nearest, ties away (cvt.rna.tf32.f32)
    std::memcpy(&v, &b, 4);
    return v;
}

int gemm(Handle* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
         const float* B, int ldb, const float* beta, float* C, int ldc)
{
    if (!h) return NOT_INITIALIZED;
    if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1) || m < 0 || n < 0 || k < 0 || !alpha || !beta) return INVALID_VALUE;
    if (lda < std::max(1, ta == 0 ? m : k) || ldb < std::max(1, tb == 0 ? k : n) || ldc < std::max(1, m)) return INVALID_VALUE;
    if (m == 0 || n == 0) return SUCCESS;
    bool round = (h->mathMode & 0xf) == 3;
    // op(A) row i and op(B) column j as contiguous vectors of length k, then one dot product per C element.
    std::vector<float> a((size_t)m * k), b((size_t)n * k);
    for (int i = 0; i < m; i++)
        for (int l = 0; l < k; l++)
        {
            float v = ta == 0 ? A[i + (size_t)l * lda] : A[l + (size_t)i * lda];
            a[(size_t)i * k + l] = round ? tf32(v) : v;
        }
    for (int j = 0; j < n; j++)
        for (int l = 0; l < k; l++)
        {
            float v = tb == 0 ? B[l + (size_t)j * ldb] : B[j + (size_t)l * ldb];
            b[(size_t)j * k + l] = round ? tf32(v) : v;
        }
    float al = *alpha, be = *beta;
    for (int j = 0; j < n; j++)
    {
        const float* bj = &b[(size_t)j * k];
        for (int i = 0; i < m; i++)
        {
            const float* ai = &a[(size_t)i * k];
            float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            int l = 0;
            for (; l + 8 <= k; l += 8)
                for (int u = 0; u < 8; u++) s[u] += ai[l + u] * bj[l + u];
            float t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
            for (; l < k; l++) t += ai[l] * bj[l];
            float* c = &C[i + (size_t)j * ldc];
            *c = be == 0.f ? al * t : al * t + be * *c;
        }
    }
    return SUCCESS;
}

// The emulated driver's fault guard (libcuda.so.1 beside this library, already loaded by the backend), so a
// GEMM that reads past an allocation fails with CUBLAS_STATUS_EXECUTION_FAILED instead of killing the process.
using Guard = int (*)(void (*)(void*), void*, char*, int);
Guard find_guard()
{
    Dl_info info;
    if (!dladdr((void*)&find_guard, &info) || !info.dli_fname) return nullptr;
    std::string p = info.dli_fname;
    p = p.substr(0, p.rfind('/') + 1) + "libcuda.so.1";
    void* h = dlopen(p.c_str(), RTLD_NOW | RTLD_NOLOAD);
    return h ? (Guard)dlsym(h, "pc_emu_guarded_call") : nullptr;
}

struct GemmCall { Handle* h; int ta, tb, m, n, k; const float* alpha; const float* A; int lda; const float* B; int ldb; const float* beta; float* C; int ldc; int result; };

int guarded_gemm(GemmCall& c)
{
    static Guard guard = find_guard();
    auto run = [](void* p) {
        auto& g = *(GemmCall*)p;
        g.result = gemm(g.h, g.ta, g.tb, g.m, g.n, g.k, g.alpha, g.A, g.lda, g.B, g.ldb, g.beta, g.C, g.ldc);
    };
    if (!guard) { run(&c); return c.result; }
    char err[256];
    if (guard(run, &c, err, (int)sizeof err) != 0)
    {
        std::fprintf(stderr, "[cuda emulator] cublasSgemm: %s\n", err);
        return EXECUTION_FAILED;
    }
    return c.result;
}
} // namespace

API int cublasCreate_v2(Handle** h) { if (!h) return INVALID_VALUE; *h = new Handle{nullptr, 0}; return SUCCESS; }
API int cublasDestroy_v2(Handle* h) { if (!h) return NOT_INITIALIZED; delete h; return SUCCESS; }
API int cublasSetStream_v2(Handle* h, void* s) { if (!h) return NOT_INITIALIZED; h->stream = s; return SUCCESS; }
API int cublasGetVersion_v2(Handle* h, int* v) { if (!h) return NOT_INITIALIZED; if (!v) return INVALID_VALUE; *v = 120402; return SUCCESS; }
API int cublasSetMathMode(Handle* h, int mode)
{
    if (!h) return NOT_INITIALIZED;
    int base = mode & 0xf;
    if (base < 0 || base > 3) return INVALID_VALUE;
    h->mathMode = mode;
    return SUCCESS;
}
API int cublasSgemm_v2(Handle* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
                       const float* B, int ldb, const float* beta, float* C, int ldc)
{
    GemmCall c{h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, 0};
    return guarded_gemm(c);
}
API int cublasSgemmStridedBatched(Handle* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
                                  long long strideA, const float* B, int ldb, long long strideB, const float* beta, float* C,
                                  int ldc, long long strideC, int batch)
{
    if (batch < 0) return INVALID_VALUE;
    for (int i = 0; i < batch; i++)
    {
        GemmCall c{h, ta, tb, m, n, k, alpha, A + i * strideA, lda, B + i * strideB, ldb, beta, C + i * strideC, ldc, 0};
        int r = guarded_gemm(c);
        if (r != SUCCESS) return r;
    }
    return SUCCESS;
}
API const char* cublasGetStatusName(int s)
{
    switch (s)
    {
        case 0: return "CUBLAS_STATUS_SUCCESS";
        case 1: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case 7: return "CUBLAS_STATUS_INVALID_VALUE";
        case 13: return "CUBLAS_STATUS_EXECUTION_FAILED";
        default: return "CUBLAS_STATUS_UNKNOWN";
    }
}
API const char* cublasGetStatusString(int s) { return cublasGetStatusName(s); }
