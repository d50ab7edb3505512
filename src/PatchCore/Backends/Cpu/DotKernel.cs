using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PatchCore.Backends.Cpu;

/// <summary>
/// The one GEMM micro-kernel of the fast backend's linear algebra (MatMul, pairwise distances, k-NN): 4 rows of
/// A against 4 rows of B, both row-major with the reduction dimension contiguous (C = A·Bᵀ). 16 vector
/// accumulators stay in registers; every loaded vector feeds 4 FMAs, so the loop is FMA-bound, not load-bound.
/// Callers tile rows so the 4 B rows stay in L1 while the A tile sits in L2. Edge tiles repeat the last valid
/// row pointer and drop those results.
/// </summary>
internal static unsafe class DotKernel
{
    /// <summary>
    /// Rows [i0, i1) of A against every row of B (n rows), in 4x4 blocks: B's block is the outer loop so its
    /// 4 rows stay in L1 while the A tile streams from L2. Edge blocks repeat the last valid row pointer; the
    /// sink gets only the valid ni x nj corner of each block. The sink is a struct, so its Take inlines.
    /// </summary>
    public static void Tiles<TSink>(float* a, int i0, int i1, float* b, int n, int d, ref TSink sink)
        where TSink : struct, IDotTileSink
    {
        float* dots = stackalloc float[16];
        for (int j = 0; j < n; j += 4)
        {
            int nj = Math.Min(4, n - j);
            float* b0 = b + (long)j * d, b1 = b + (long)(j + Math.Min(1, nj - 1)) * d;
            float* b2 = b + (long)(j + Math.Min(2, nj - 1)) * d, b3 = b + (long)(j + Math.Min(3, nj - 1)) * d;
            for (int i = i0; i < i1; i += 4)
            {
                int ni = Math.Min(4, i1 - i);
                float* a0 = a + (long)i * d, a1 = a + (long)(i + Math.Min(1, ni - 1)) * d;
                float* a2 = a + (long)(i + Math.Min(2, ni - 1)) * d, a3 = a + (long)(i + Math.Min(3, ni - 1)) * d;
                Dot4x4(a0, a1, a2, a3, b0, b1, b2, b3, d, dots);
                sink.Take(i, j, ni, nj, dots);
            }
        }
    }

    /// <summary>dots[r*4 + c] = Σ_t a_r[t]·b_c[t] over d values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot4x4(float* a0, float* a1, float* a2, float* a3,
        float* b0, float* b1, float* b2, float* b3, int d, float* dots)
    {
        int t = 0;
        if (Vector512.IsHardwareAccelerated && d >= 16)
        {
            Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
            Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
            Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
            Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
            for (; t <= d - 16; t += 16)
            {
                var x0 = Vector512.Load(b0 + t); var x1 = Vector512.Load(b1 + t);
                var x2 = Vector512.Load(b2 + t); var x3 = Vector512.Load(b3 + t);
                var q = Vector512.Load(a0 + t);
                c00 = Vector512.FusedMultiplyAdd(q, x0, c00); c01 = Vector512.FusedMultiplyAdd(q, x1, c01);
                c02 = Vector512.FusedMultiplyAdd(q, x2, c02); c03 = Vector512.FusedMultiplyAdd(q, x3, c03);
                q = Vector512.Load(a1 + t);
                c10 = Vector512.FusedMultiplyAdd(q, x0, c10); c11 = Vector512.FusedMultiplyAdd(q, x1, c11);
                c12 = Vector512.FusedMultiplyAdd(q, x2, c12); c13 = Vector512.FusedMultiplyAdd(q, x3, c13);
                q = Vector512.Load(a2 + t);
                c20 = Vector512.FusedMultiplyAdd(q, x0, c20); c21 = Vector512.FusedMultiplyAdd(q, x1, c21);
                c22 = Vector512.FusedMultiplyAdd(q, x2, c22); c23 = Vector512.FusedMultiplyAdd(q, x3, c23);
                q = Vector512.Load(a3 + t);
                c30 = Vector512.FusedMultiplyAdd(q, x0, c30); c31 = Vector512.FusedMultiplyAdd(q, x1, c31);
                c32 = Vector512.FusedMultiplyAdd(q, x2, c32); c33 = Vector512.FusedMultiplyAdd(q, x3, c33);
            }
            dots[0] = Vector512.Sum(c00); dots[1] = Vector512.Sum(c01); dots[2] = Vector512.Sum(c02); dots[3] = Vector512.Sum(c03);
            dots[4] = Vector512.Sum(c10); dots[5] = Vector512.Sum(c11); dots[6] = Vector512.Sum(c12); dots[7] = Vector512.Sum(c13);
            dots[8] = Vector512.Sum(c20); dots[9] = Vector512.Sum(c21); dots[10] = Vector512.Sum(c22); dots[11] = Vector512.Sum(c23);
            dots[12] = Vector512.Sum(c30); dots[13] = Vector512.Sum(c31); dots[14] = Vector512.Sum(c32); dots[15] = Vector512.Sum(c33);
        }
        else if (Vector256.IsHardwareAccelerated && d >= 8)
        {
            Vector256<float> c00 = default, c01 = default, c02 = default, c03 = default;
            Vector256<float> c10 = default, c11 = default, c12 = default, c13 = default;
            Vector256<float> c20 = default, c21 = default, c22 = default, c23 = default;
            Vector256<float> c30 = default, c31 = default, c32 = default, c33 = default;
            for (; t <= d - 8; t += 8)
            {
                var x0 = Vector256.Load(b0 + t); var x1 = Vector256.Load(b1 + t);
                var x2 = Vector256.Load(b2 + t); var x3 = Vector256.Load(b3 + t);
                var q = Vector256.Load(a0 + t);
                c00 = Vector256.FusedMultiplyAdd(q, x0, c00); c01 = Vector256.FusedMultiplyAdd(q, x1, c01);
                c02 = Vector256.FusedMultiplyAdd(q, x2, c02); c03 = Vector256.FusedMultiplyAdd(q, x3, c03);
                q = Vector256.Load(a1 + t);
                c10 = Vector256.FusedMultiplyAdd(q, x0, c10); c11 = Vector256.FusedMultiplyAdd(q, x1, c11);
                c12 = Vector256.FusedMultiplyAdd(q, x2, c12); c13 = Vector256.FusedMultiplyAdd(q, x3, c13);
                q = Vector256.Load(a2 + t);
                c20 = Vector256.FusedMultiplyAdd(q, x0, c20); c21 = Vector256.FusedMultiplyAdd(q, x1, c21);
                c22 = Vector256.FusedMultiplyAdd(q, x2, c22); c23 = Vector256.FusedMultiplyAdd(q, x3, c23);
                q = Vector256.Load(a3 + t);
                c30 = Vector256.FusedMultiplyAdd(q, x0, c30); c31 = Vector256.FusedMultiplyAdd(q, x1, c31);
                c32 = Vector256.FusedMultiplyAdd(q, x2, c32); c33 = Vector256.FusedMultiplyAdd(q, x3, c33);
            }
            dots[0] = Vector256.Sum(c00); dots[1] = Vector256.Sum(c01); dots[2] = Vector256.Sum(c02); dots[3] = Vector256.Sum(c03);
            dots[4] = Vector256.Sum(c10); dots[5] = Vector256.Sum(c11); dots[6] = Vector256.Sum(c12); dots[7] = Vector256.Sum(c13);
            dots[8] = Vector256.Sum(c20); dots[9] = Vector256.Sum(c21); dots[10] = Vector256.Sum(c22); dots[11] = Vector256.Sum(c23);
            dots[12] = Vector256.Sum(c30); dots[13] = Vector256.Sum(c31); dots[14] = Vector256.Sum(c32); dots[15] = Vector256.Sum(c33);
        }
        else
        {
            for (int i = 0; i < 16; i++) dots[i] = 0;
        }
        for (; t < d; t++) // reduction tail
        {
            float x0 = b0[t], x1 = b1[t], x2 = b2[t], x3 = b3[t];
            float q = a0[t]; dots[0] += q * x0; dots[1] += q * x1; dots[2] += q * x2; dots[3] += q * x3;
            q = a1[t]; dots[4] += q * x0; dots[5] += q * x1; dots[6] += q * x2; dots[7] += q * x3;
            q = a2[t]; dots[8] += q * x0; dots[9] += q * x1; dots[10] += q * x2; dots[11] += q * x3;
            q = a3[t]; dots[12] += q * x0; dots[13] += q * x1; dots[14] += q * x2; dots[15] += q * x3;
        }
    }
}

/// <summary>Consumer of one 4x4 block of dot products: dots[r*4 + c] = a_{i+r} · b_{j+c}, r &lt; ni, c &lt; nj.</summary>
internal unsafe interface IDotTileSink
{
    void Take(int i, int j, int ni, int nj, float* dots);
}
