using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using PatchCore.Backends;

namespace PatchCore.Gpu;

// Approximate greedy coreset (ALGORITHM.md), kept entirely on the device. Per iteration two launches:
//  - step: every row's Euclidean distance to the row selected last (its index read from the device buffer
//    of selections, so the host never waits for it), folded into the running minimum, and a per-group
//    argmax of the updated minima written to a partials buffer;
//  - final argmax: one group reduces the partials and appends the winner to the selections.
// The host only queues launches; the selections come back in one copy at the end. This is what removes the
// per-iteration host round trip that makes the official implementation slow on large banks.
// Features are transposed once to [dim, N] so that, for each dimension, the threads of a warp read
// consecutive rows (coalesced) while the selected row's value is a broadcast.
public sealed partial class GpuBackend
{
    Action<Index1D, ArrayView<float>, ArrayView<float>, int, int> _transpose = null!;
    Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int, int> _coresetInit = null!;
    Action<KernelConfig, CoresetStepArgs> _coresetStep = null!;
    Action<KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<int>, int, int> _coresetArgmax = null!;

    internal struct CoresetStepArgs
    {
        public ArrayView<float> FeaturesT, MinDist, PartialValue;
        public ArrayView<int> PartialIndex, Selected;
        public int N, Dim;
        /// <summary>Index into Selected of the row to lower the distances with; -1 = only reduce.</summary>
        public int Previous;
    }

    void LoadCoreset()
    {
        _transpose = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int>(TransposeKernel);
        _coresetInit = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int, int>(CoresetInitKernel);
        _coresetStep = _accelerator.LoadStreamKernel<CoresetStepArgs>(CoresetStepKernel);
        _coresetArgmax = _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<int>, ArrayView<int>, int, int>(CoresetArgmaxKernel);
    }

    // x [rows, cols] → xt [cols, rows]; thread = one output element, so writes are coalesced.
    static void TransposeKernel(Index1D index, ArrayView<float> x, ArrayView<float> xt, int rows, int cols)
    {
        int i = index;
        int r = i % rows, c = i / rows;
        xt[i] = x[r * cols + c];
    }

    // Starting distance: mean Euclidean distance to the random start rows (they are not selected).
    static void CoresetInitKernel(Index1D index, ArrayView<float> ft, ArrayView<int> starts, ArrayView<float> minDist, int n, int dim, int nStarts)
    {
        int i = index;
        float total = 0f;
        for (int s = 0; s < nStarts; s++)
        {
            int j = starts[s];
            float sum = 0f;
            for (int c = 0; c < dim; c++)
            {
                float d = ft[c * n + i] - ft[c * n + j];
                sum += d * d;
            }
            total += XMath.Sqrt(sum);
        }
        minDist[i] = total / nStarts;
    }

    static void CoresetStepKernel(CoresetStepArgs a)
    {
        var bestV = SharedMemory.Allocate<float>(GroupSize);
        var bestI = SharedMemory.Allocate<int>(GroupSize);
        int tid = Group.IdxX;
        int i = Grid.IdxX * GroupSize + tid;
        float v = -1f; // below every distance: padding threads never win
        int vi = int.MaxValue;
        if (i < a.N)
        {
            float m = a.MinDist[i];
            if (a.Previous >= 0)
            {
                int sel = a.Selected[a.Previous];
                float sum = 0f;
                for (int c = 0; c < a.Dim; c++)
                {
                    float d = a.FeaturesT[c * a.N + i] - a.FeaturesT[c * a.N + sel];
                    sum += d * d;
                }
                float dist = XMath.Sqrt(sum);
                if (dist < m) { m = dist; a.MinDist[i] = m; }
            }
            v = m; vi = i;
        }
        bestV[tid] = v; bestI[tid] = vi;
        Group.Barrier();
        for (int stride = GroupSize / 2; stride > 0; stride >>= 1)
        {
            if (tid < stride) Better(bestV, bestI, tid, tid + stride);
            Group.Barrier();
        }
        if (tid == 0)
        {
            a.PartialValue[Grid.IdxX] = bestV[0];
            a.PartialIndex[Grid.IdxX] = bestI[0];
        }
    }

    /// <summary>Keep in slot <paramref name="t"/> the larger of slots t and o; on equal values the lower row.</summary>
    static void Better(ArrayView<float> v, ArrayView<int> idx, int t, int o)
    {
        float a = v[t], b = v[o];
        if (b > a || (b == a && idx[o] < idx[t]))
        {
            v[t] = b;
            idx[t] = idx[o];
        }
    }

    // One group: strided pass over the partials, then a tree in shared memory; thread 0 appends the winner.
    static void CoresetArgmaxKernel(ArrayView<float> partialV, ArrayView<int> partialI, ArrayView<int> selected, int parts, int slot)
    {
        var bestV = SharedMemory.Allocate<float>(GroupSize);
        var bestI = SharedMemory.Allocate<int>(GroupSize);
        int tid = Group.IdxX;
        float v = -2f;
        int vi = int.MaxValue;
        for (int p = tid; p < parts; p += GroupSize)
        {
            float pv = partialV[p];
            int pi = partialI[p];
            if (pv > v || (pv == v && pi < vi)) { v = pv; vi = pi; }
        }
        bestV[tid] = v; bestI[tid] = vi;
        Group.Barrier();
        for (int stride = GroupSize / 2; stride > 0; stride >>= 1)
        {
            if (tid < stride) Better(bestV, bestI, tid, tid + stride);
            Group.Barrier();
        }
        if (tid == 0) selected[slot] = bestI[0];
    }

    public int[] GreedyCoreset(DeviceTensor features, int count, ReadOnlySpan<int> starts)
    {
        OpContracts.GreedyCoreset(features, count, starts);
        int n = features[0], dim = features[1];
        if (count == 0) return [];

        int groups = CeilDiv(n, GroupSize);
        using var ft = _accelerator.Allocate1D<float>((long)n * dim);
        using var minDist = _accelerator.Allocate1D<float>(n);
        using var partV = _accelerator.Allocate1D<float>(groups);
        using var partI = _accelerator.Allocate1D<int>(groups);
        using var selected = _accelerator.Allocate1D<int>(count);
        using var startBuf = UploadInts(starts);

        if ((long)n * dim > 0) _transpose(n * dim, AsGpu(features).View, ft.View, n, dim);
        _coresetInit(n, ft.View, startBuf.View, minDist.View, n, dim, starts.Length);

        var args = new CoresetStepArgs
        {
            FeaturesT = ft.View, MinDist = minDist.View, PartialValue = partV.View, PartialIndex = partI.View,
            Selected = selected.View, N = n, Dim = dim, Previous = -1,
        };
        var stepConfig = new KernelConfig(new Index1D(groups), new Index1D(GroupSize));
        var argmaxConfig = new KernelConfig(new Index1D(1), new Index1D(GroupSize));
        for (int t = 0; t < count; t++)
        {
            // Iteration t lowers the distances with selection t-1 (none for t = 0), then selects slot t.
            args.Previous = t - 1;
            _coresetStep(stepConfig, args);
            _coresetArgmax(argmaxConfig, partV.View, partI.View, selected.View, groups, t);
        }
        var result = new int[count];
        DownloadInts(selected.View, result);
        return result;
    }
}
