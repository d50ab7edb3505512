// Distances and k-nearest-neighbour selection. The cross term q·x comes from cuBLAS (alpha = -2); these
// kernels add the row norms and select, faiss GPU brute-force style: |q|² + |x|² - 2 q·x, clamped at 0.

// One warp per row: out[r] = sum of squares of row r.
extern "C" __global__ void row_sqnorms(const float* x, float* out, int rows, int dim)
{
    int lane = threadIdx.x & 31;
    i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    i64 warps = ((i64)gridDim.x * blockDim.x) >> 5;
    for (i64 r = warp; r < rows; r += warps)
    {
        const float* p = x + r * dim;
        float s = 0.f;
        for (int j = lane; j < dim; j += 32) s += p[j] * p[j];
        s = pc_warp_allsum(s);
        if (lane == 0) out[r] = s;
    }
}

// d[i, j] (holding -2 q_i·x_j) += |q_i|² + |x_j|², clamped at 0 (NaN stays NaN).
extern "C" __global__ void finalize_distances(float* d, const float* qn, const float* xn, int M, int K)
{
    i64 total = (i64)M * K;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x)
    {
        float v = d[i] + qn[i / K] + xn[i % K];
        d[i] = v < 0.f ? 0.f : v;
    }
}

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
