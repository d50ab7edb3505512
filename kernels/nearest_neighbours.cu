// k nearest database rows per query, tiled, faiss GPU brute-force style: per tile one cuBLAS GEMM for -2 q·x,
// then topk_tile adds the norms (row_sqnorms of pairwise_distances.cu) and merges into the running top k.
// Kernels:
//   topk_tile — one block per query of the tile; per-thread sorted top-k of a strided share, then a block merge
// CPU twin: src/PatchCore/Backends/Cpu/NearestNeighbours.cs (the truth: src/PatchCore/Backends/Reference/NearestNeighbours.cs)
// Host side: src/PatchCore.Cuda/CudaBackend.NearestNeighbours.cs
// Test: CudaEmulatorTests (CI, on the CPU emulator) and CudaGpuTests (a real GPU), both through BackendSelfCheck.
// Benchmark: pcnative bench kernels --backend cuda
//

#define KMAX 32
#define TOPK_THREADS 256

// (d, i) before (e, j): smaller distance, then lower index.
__device__ __forceinline__ bool pc_before(float d, int i, float e, int j) { return d < e || (d == e && i < j); }

// One block (TOPK_THREADS threads) per query of the tile. g holds -2 q·x for the tile [Mt, Kt] (row stride Kt);
// the running best k of each query (bestD/bestI, ascending) is merged with this tile's candidates. Each thread
// keeps a sorted top-k of its strided share; the block then takes the k smallest heads one by one.
extern "C" __global__ void topk_tile(const float* g, const float* qn, const float* xn, int Kt, int kOffset, int k,
                                     float* bestD, int* bestI, int first)
{
    __shared__ float sd[TOPK_THREADS];
    __shared__ int si[TOPK_THREADS];
    float ld[KMAX];
    int li[KMAX];
    int cnt = 0;
    i64 q = blockIdx.x;
    int tid = threadIdx.x;
    if (!first && tid == 0)
        for (int r = 0; r < k; r++)
            if (bestI[q * k + r] >= 0) { ld[cnt] = bestD[q * k + r]; li[cnt] = bestI[q * k + r]; cnt++; }
    float qq = qn[q];
    const float* row = g + q * (i64)Kt;
    for (int j = tid; j < Kt; j += TOPK_THREADS)
    {
        float v = row[j] + qq + xn[j];
        v = v < 0.f ? 0.f : v;
        int idx = kOffset + j;
        if (!(v == v)) continue;
        if (cnt == k && !pc_before(v, idx, ld[k - 1], li[k - 1])) continue;
        int pos = cnt < k ? cnt : k - 1;
        while (pos > 0 && pc_before(v, idx, ld[pos - 1], li[pos - 1])) { ld[pos] = ld[pos - 1]; li[pos] = li[pos - 1]; pos--; }
        ld[pos] = v;
        li[pos] = idx;
        if (cnt < k) cnt++;
    }
    int ptr = 0;
    for (int r = 0; r < k; r++)
    {
        sd[tid] = ptr < cnt ? ld[ptr] : PC_INF;
        si[tid] = ptr < cnt ? li[ptr] : PC_INT_MAX;
        __syncthreads();
        for (int s = TOPK_THREADS / 2; s > 0; s >>= 1)
        {
            if (tid < s && pc_before(sd[tid + s], si[tid + s], sd[tid], si[tid])) { sd[tid] = sd[tid + s]; si[tid] = si[tid + s]; }
            __syncthreads();
        }
        int win = si[0];
        float wd = sd[0];
        if (tid == 0)
        {
            bestD[q * k + r] = win == PC_INT_MAX ? PC_INF : wd;
            bestI[q * k + r] = win == PC_INT_MAX ? -1 : win;
        }
        if (ptr < cnt && li[ptr] == win) ptr++;
        __syncthreads();
    }
}
