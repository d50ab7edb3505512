using ILGPU;
using ILGPU.Runtime;

namespace PatchCore.Gpu;

/// <summary>Fills this thread's share of the A tile (TileK x TileM, stored k-major: As[k * TileM + m]).</summary>
internal interface IGemmTileA
{
    void LoadA(ArrayView<float> As, int m0, int k0, int tid);
}

/// <summary>Fills this thread's share of the B tile (TileK x TileN, stored k-major: Bs[k * TileN + n]).</summary>
internal interface IGemmTileB
{
    void LoadB(ArrayView<float> Bs, int k0, int n0, int tid);
}

/// <summary>Writes one finished element C[m, n] (with bias, residual, ReLU, norms... as the op needs).</summary>
internal interface IGemmEpilogue
{
    void Store(int m, int n, float acc);
}

/// <summary>
/// The one tiled GEMM every matrix-shaped op runs on: conv (implicit im2col), MatMul, the cross term of the
/// pairwise and nearest-neighbour distances. C[M, N] = A[M, K] · B[K, N], then the epilogue.
///
/// Why this shape: a 256-thread group computes a 64x64 tile of C; each thread owns a 4x4 block of it in
/// sixteen registers (register blocking: per k it reads 4 + 4 values from shared memory for 16 FMAs, instead of
/// 2 loads per FMA). A and B stream through shared memory in 64x16 slices, so each global element is read
/// once per tile instead of once per output. A thread's 4x4 block is strided by 16 rows and 16 columns: the 16
/// threads of a row read 16 consecutive shared-memory words (no bank conflicts), B loads are broadcast-free,
/// and the epilogue's stores of neighbouring threads hit neighbouring columns (coalesced).
/// Operand access is abstracted by struct generics (ILGPU specialises and inlines them), so the im2col
/// indexing of the conv happens while loading the tile and the im2col matrix never exists in memory.
/// </summary>
internal static class TiledGemm
{
    public const int TileM = 64, TileN = 64, TileK = 16, Threads = 256;

    public static KernelConfig Config(int m, int n) =>
        new(new Index2D((n + TileN - 1) / TileN, (m + TileM - 1) / TileM), new Index2D(Threads, 1));

    public static void Kernel<TA, TB, TE>(TA a, TB b, TE e, int M, int N, int K)
        where TA : struct, IGemmTileA
        where TB : struct, IGemmTileB
        where TE : struct, IGemmEpilogue
    {
        var As = SharedMemory.Allocate<float>(TileK * TileM);
        var Bs = SharedMemory.Allocate<float>(TileK * TileN);
        int tid = Group.IdxX;
        int tx = tid & 15, ty = tid >> 4;
        int m0 = Grid.IdxY * TileM, n0 = Grid.IdxX * TileN;

        float c00 = 0, c01 = 0, c02 = 0, c03 = 0;
        float c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0;
        float c30 = 0, c31 = 0, c32 = 0, c33 = 0;

        for (int k0 = 0; k0 < K; k0 += TileK)
        {
            a.LoadA(As, m0, k0, tid);
            b.LoadB(Bs, k0, n0, tid);
            Group.Barrier();
            for (int kk = 0; kk < TileK; kk++)
            {
                int ao = kk * TileM + ty;
                float a0 = As[ao], a1 = As[ao + 16], a2 = As[ao + 32], a3 = As[ao + 48];
                int bo = kk * TileN + tx;
                float b0 = Bs[bo], b1 = Bs[bo + 16], b2 = Bs[bo + 32], b3 = Bs[bo + 48];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            // Nobody may overwrite the tiles of this step while a slower thread still reads them.
            Group.Barrier();
        }

        StoreRow(ref e, m0 + ty, n0 + tx, M, N, c00, c01, c02, c03);
        StoreRow(ref e, m0 + ty + 16, n0 + tx, M, N, c10, c11, c12, c13);
        StoreRow(ref e, m0 + ty + 32, n0 + tx, M, N, c20, c21, c22, c23);
        StoreRow(ref e, m0 + ty + 48, n0 + tx, M, N, c30, c31, c32, c33);
    }

    static void StoreRow<TE>(ref TE e, int m, int n, int M, int N, float v0, float v1, float v2, float v3)
        where TE : struct, IGemmEpilogue
    {
        if (m >= M) return;
        if (n < N) e.Store(m, n, v0);
        if (n + 16 < N) e.Store(m, n + 16, v1);
        if (n + 32 < N) e.Store(m, n + 32, v2);
        if (n + 48 < N) e.Store(m, n + 48, v3);
    }
}

// ---- operands ------------------------------------------------------------------------------------------

/// <summary>A = row-major [M, K] matrix (MatMul's left side, the rows of a distance GEMM). Threads walk k
/// fastest, so 16 neighbouring threads read 16 consecutive floats of one row.</summary>
internal struct RowMajorA : IGemmTileA
{
    public ArrayView<float> A;
    public int M, K;

    public void LoadA(ArrayView<float> As, int m0, int k0, int tid)
    {
        for (int r = 0; r < TiledGemm.TileM * TiledGemm.TileK / TiledGemm.Threads; r++)
        {
            int idx = tid + r * TiledGemm.Threads;
            int mm = idx >> 4, kk = idx & 15;
            int m = m0 + mm, k = k0 + kk;
            As[kk * TiledGemm.TileM + mm] = m < M && k < K ? A[m * K + k] : 0f;
        }
    }
}

/// <summary>A stored transposed, [K, M] (conv weights are packed this way at CreateConv): threads walk m
/// fastest, 64 consecutive floats per k, fully coalesced.</summary>
internal struct KMajorA : IGemmTileA
{
    public ArrayView<float> AT;
    public int M, K;

    public void LoadA(ArrayView<float> As, int m0, int k0, int tid)
    {
        for (int r = 0; r < TiledGemm.TileM * TiledGemm.TileK / TiledGemm.Threads; r++)
        {
            int idx = tid + r * TiledGemm.Threads;
            int mm = idx & 63, kk = idx >> 6;
            int m = m0 + mm, k = k0 + kk;
            As[kk * TiledGemm.TileM + mm] = m < M && k < K ? AT[k * M + m] : 0f;
        }
    }
}

/// <summary>B = row-major [K, N] (MatMul's right side).</summary>
internal struct RowMajorB : IGemmTileB
{
    public ArrayView<float> B;
    public int K, N;

    public void LoadB(ArrayView<float> Bs, int k0, int n0, int tid)
    {
        for (int r = 0; r < TiledGemm.TileN * TiledGemm.TileK / TiledGemm.Threads; r++)
        {
            int idx = tid + r * TiledGemm.Threads;
            int nn = idx & 63, kk = idx >> 6;
            int n = n0 + nn, k = k0 + kk;
            Bs[kk * TiledGemm.TileN + nn] = n < N && k < K ? B[k * N + n] : 0f;
        }
    }
}

/// <summary>B[k, n] = X[n, k] for a row-major [N, K] matrix X: the second operand of a distance GEMM is the
/// other point set, whose rows are points (no transposed copy is made).</summary>
internal struct RowsAsColumnsB : IGemmTileB
{
    public ArrayView<float> X;
    public int K, N;

    public void LoadB(ArrayView<float> Bs, int k0, int n0, int tid)
    {
        for (int r = 0; r < TiledGemm.TileN * TiledGemm.TileK / TiledGemm.Threads; r++)
        {
            int idx = tid + r * TiledGemm.Threads;
            int nn = idx >> 4, kk = idx & 15;
            int n = n0 + nn, k = k0 + kk;
            Bs[kk * TiledGemm.TileN + nn] = n < N && k < K ? X[n * K + k] : 0f;
        }
    }
}

/// <summary>C[m, n] = acc, row-major with leading dimension N.</summary>
internal struct PlainStore : IGemmEpilogue
{
    public ArrayView<float> C;
    public int Ldc;
    public void Store(int m, int n, float acc) => C[m * Ldc + n] = acc;
}

/// <summary>Squared distance from the cross term: |a_m|² + |b_n|² - 2 a_m·b_n, clamped at 0 because rounding
/// can make it slightly negative for near-identical points.</summary>
internal struct SquaredDistanceStore : IGemmEpilogue
{
    public ArrayView<float> C, RowNorms, ColNorms;
    public int Ldc;

    public void Store(int m, int n, float acc)
    {
        float d = RowNorms[m] + ColNorms[n] - 2f * acc;
        C[m * Ldc + n] = d > 0f ? d : 0f;
    }
}
