using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PatchCore.Backends.Cpu;

/// <summary>
/// Register-blocked GEMM microkernel for the convolution C[Mr x Nr] (+)= A[Mr x kc] · B[kc x Nr]:
/// A is the packed weight panel ([k][Mr], Mr = 8 output channels), B the packed im2col panel ([k][Nr],
/// Nr = 32 output pixels), C a tile of the NCHW output (row stride ldc). The 8 x 32 tile lives in 16
/// Vector512 accumulators (8 x 4 x Vector256 quarters on machines without AVX-512), so each k step is
/// 2 loads of B, 8 broadcasts of A and 16 FMAs.
/// </summary>
internal static unsafe class GemmKernel
{
    public const int MR = 8;
    public const int NR = 32;

    /// <summary>Tests flip this to exercise the Vector256 path on an AVX-512 machine.</summary>
    internal static bool ForceVector256;

    public static bool UseVector512 => Vector512.IsHardwareAccelerated && !ForceVector256;

    /// <summary>
    /// One full 8x32 tile. first: start from the bias (else from C, a partial sum of earlier k blocks);
    /// last: add the residual (if any, same stride as C) and apply ReLU before the store.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kc, float* a, float* b, float* c, int ldc, float* bias, bool first,
        float* res, int ldr, bool last, bool relu)
    {
        if (UseVector512) Tile512(kc, a, b, c, ldc, bias, first, res, ldr, last, relu);
        else
            for (int r0 = 0; r0 < MR; r0 += 4)
            for (int c0 = 0; c0 < NR; c0 += 16)
                Tile256(kc, a + r0, b + c0, c + r0 * ldc + c0, ldc, bias + r0, first,
                    res == null ? null : res + r0 * ldr + c0, ldr, last, relu);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile512(int kc, float* a, float* b, float* c, int ldc, float* bias, bool first,
        float* res, int ldr, bool last, bool relu)
    {
        Vector512<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71;
        if (first)
        {
            c00 = c01 = Vector512.Create(bias[0]);
            c10 = c11 = Vector512.Create(bias[1]);
            c20 = c21 = Vector512.Create(bias[2]);
            c30 = c31 = Vector512.Create(bias[3]);
            c40 = c41 = Vector512.Create(bias[4]);
            c50 = c51 = Vector512.Create(bias[5]);
            c60 = c61 = Vector512.Create(bias[6]);
            c70 = c71 = Vector512.Create(bias[7]);
        }
        else
        {
            c00 = Vector512.Load(c); c01 = Vector512.Load(c + 16);
            c10 = Vector512.Load(c + ldc); c11 = Vector512.Load(c + ldc + 16);
            c20 = Vector512.Load(c + 2 * ldc); c21 = Vector512.Load(c + 2 * ldc + 16);
            c30 = Vector512.Load(c + 3 * ldc); c31 = Vector512.Load(c + 3 * ldc + 16);
            c40 = Vector512.Load(c + 4 * ldc); c41 = Vector512.Load(c + 4 * ldc + 16);
            c50 = Vector512.Load(c + 5 * ldc); c51 = Vector512.Load(c + 5 * ldc + 16);
            c60 = Vector512.Load(c + 6 * ldc); c61 = Vector512.Load(c + 6 * ldc + 16);
            c70 = Vector512.Load(c + 7 * ldc); c71 = Vector512.Load(c + 7 * ldc + 16);
        }
        for (int k = 0; k < kc; k++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            Vector512<float> x;
            x = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[1]); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[2]); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[3]); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[4]); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[5]); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a[6]); c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a[7]); c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
            a += MR;
            b += NR;
        }
        if (last)
        {
            if (res != null)
            {
                c00 += Vector512.Load(res); c01 += Vector512.Load(res + 16);
                c10 += Vector512.Load(res + ldr); c11 += Vector512.Load(res + ldr + 16);
                c20 += Vector512.Load(res + 2 * ldr); c21 += Vector512.Load(res + 2 * ldr + 16);
                c30 += Vector512.Load(res + 3 * ldr); c31 += Vector512.Load(res + 3 * ldr + 16);
                c40 += Vector512.Load(res + 4 * ldr); c41 += Vector512.Load(res + 4 * ldr + 16);
                c50 += Vector512.Load(res + 5 * ldr); c51 += Vector512.Load(res + 5 * ldr + 16);
                c60 += Vector512.Load(res + 6 * ldr); c61 += Vector512.Load(res + 6 * ldr + 16);
                c70 += Vector512.Load(res + 7 * ldr); c71 += Vector512.Load(res + 7 * ldr + 16);
            }
            if (relu)
            {
                var z = Vector512<float>.Zero;
                c00 = Vector512.Max(c00, z); c01 = Vector512.Max(c01, z);
                c10 = Vector512.Max(c10, z); c11 = Vector512.Max(c11, z);
                c20 = Vector512.Max(c20, z); c21 = Vector512.Max(c21, z);
                c30 = Vector512.Max(c30, z); c31 = Vector512.Max(c31, z);
                c40 = Vector512.Max(c40, z); c41 = Vector512.Max(c41, z);
                c50 = Vector512.Max(c50, z); c51 = Vector512.Max(c51, z);
                c60 = Vector512.Max(c60, z); c61 = Vector512.Max(c61, z);
                c70 = Vector512.Max(c70, z); c71 = Vector512.Max(c71, z);
            }
        }
        c00.Store(c); c01.Store(c + 16);
        c10.Store(c + ldc); c11.Store(c + ldc + 16);
        c20.Store(c + 2 * ldc); c21.Store(c + 2 * ldc + 16);
        c30.Store(c + 3 * ldc); c31.Store(c + 3 * ldc + 16);
        c40.Store(c + 4 * ldc); c41.Store(c + 4 * ldc + 16);
        c50.Store(c + 5 * ldc); c51.Store(c + 5 * ldc + 16);
        c60.Store(c + 6 * ldc); c61.Store(c + 6 * ldc + 16);
        c70.Store(c + 7 * ldc); c71.Store(c + 7 * ldc + 16);
    }

    /// <summary>A 4x16 quarter of the tile with Vector256 (8 accumulators: fits 16 ymm registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile256(int kc, float* a, float* b, float* c, int ldc, float* bias, bool first,
        float* res, int ldr, bool last, bool relu)
    {
        Vector256<float> c00, c01, c10, c11, c20, c21, c30, c31;
        if (first)
        {
            c00 = c01 = Vector256.Create(bias[0]);
            c10 = c11 = Vector256.Create(bias[1]);
            c20 = c21 = Vector256.Create(bias[2]);
            c30 = c31 = Vector256.Create(bias[3]);
        }
        else
        {
            c00 = Vector256.Load(c); c01 = Vector256.Load(c + 8);
            c10 = Vector256.Load(c + ldc); c11 = Vector256.Load(c + ldc + 8);
            c20 = Vector256.Load(c + 2 * ldc); c21 = Vector256.Load(c + 2 * ldc + 8);
            c30 = Vector256.Load(c + 3 * ldc); c31 = Vector256.Load(c + 3 * ldc + 8);
        }
        for (int k = 0; k < kc; k++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            Vector256<float> x;
            x = Vector256.Create(a[0]); c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[1]); c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[2]); c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[3]); c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            a += MR;
            b += NR;
        }
        if (last)
        {
            if (res != null)
            {
                c00 += Vector256.Load(res); c01 += Vector256.Load(res + 8);
                c10 += Vector256.Load(res + ldr); c11 += Vector256.Load(res + ldr + 8);
                c20 += Vector256.Load(res + 2 * ldr); c21 += Vector256.Load(res + 2 * ldr + 8);
                c30 += Vector256.Load(res + 3 * ldr); c31 += Vector256.Load(res + 3 * ldr + 8);
            }
            if (relu)
            {
                var z = Vector256<float>.Zero;
                c00 = Vector256.Max(c00, z); c01 = Vector256.Max(c01, z);
                c10 = Vector256.Max(c10, z); c11 = Vector256.Max(c11, z);
                c20 = Vector256.Max(c20, z); c21 = Vector256.Max(c21, z);
                c30 = Vector256.Max(c30, z); c31 = Vector256.Max(c31, z);
            }
        }
        c00.Store(c); c01.Store(c + 8);
        c10.Store(c + ldc); c11.Store(c + ldc + 8);
        c20.Store(c + 2 * ldc); c21.Store(c + 2 * ldc + 8);
        c30.Store(c + 3 * ldc); c31.Store(c + 3 * ldc + 8);
    }
}
