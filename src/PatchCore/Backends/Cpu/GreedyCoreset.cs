using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PatchCore.Backends.Cpu;

/// <summary>
/// Approximate greedy coreset (farthest-point traversal) selecting exactly what the plain loop of ALGORITHM.md
/// selects, but skipping distance computations the triangle inequality proves useless.
///
/// State per row i: d_i (the plain loop's running minimum, bit-identical), its assigned centre a_i and
/// e_i = dist(i, a_i) as computed. For a new centre c: dist(i, c) ≥ dist(c, a_i) − e_i, so when
/// dist(c, a_i) ≥ d_i + e_i (plus a relative safety margin far above float rounding of the distances involved)
/// the plain loop's min(d_i, dist(i, c)) is d_i and row i is skipped. Rows are grouped by assigned centre
/// (clusters); a cluster keeps U = max(d_i + e_i) over its members and is skipped whole when
/// dist(c, a) ≥ U. It also keeps its members' max d_i (lowest index on ties), so the argmax scans clusters,
/// not rows. Wherever a distance is computed it comes from the same routine as the plain loop's, so d_i
/// values (and the selection, lowest index on ties) equal the plain loop's exactly.
/// </summary>
public sealed partial class CpuBackend
{
    /// <summary>Relative margin for the skip test; the float error of a 128..1024-d distance is below 1e-5.</summary>
    const float SkipMargin = 1e-4f;
    /// <summary>Centres used as pivots for the lower bounds on centre-to-centre distances.</summary>
    const int PivotCount = 16;

    /// <summary>
    /// Bit l set when cluster a0+l may need its exact centre distance: the pivot lower bound
    /// max_j (|d(c,P_j) − d(a,P_j)| − margin·(d(c,P_j) + d(a,P_j))) does not clear the cluster's bound U_a.
    /// With no pivot yet (first iterations) every cluster is flagged.
    /// </summary>
    static unsafe uint PivotScreen(float* pivotDist, float* bounds, ReadOnlySpan<float> cp, int np, int stride, int a0, int lanes)
    {
        uint all = lanes == 32 ? uint.MaxValue : (1u << lanes) - 1;
        if (np == 0) return all;
        if (Vector512.IsHardwareAccelerated && lanes == 16)
        {
            var lb = Vector512<float>.Zero;
            var margin = Vector512.Create(SkipMargin);
            for (int j = 0; j < np; j++)
            {
                var c = Vector512.Create(cp[j]);
                var p = Vector512.Load(pivotDist + (long)j * stride + a0);
                lb = Vector512.Max(lb, Vector512.Abs(c - p) - margin * (c + p));
            }
            var u = Vector512.Load(bounds + a0);
            var skip = Vector512.GreaterThanOrEqual(lb - u, margin * (lb + u));
            return ~(uint)skip.ExtractMostSignificantBits() & all;
        }
        uint need = 0;
        for (int l = 0; l < lanes; l++)
        {
            float lbs = 0;
            for (int j = 0; j < np; j++)
            {
                float p = pivotDist[(long)j * stride + a0 + l];
                lbs = MathF.Max(lbs, MathF.Abs(cp[j] - p) - SkipMargin * (cp[j] + p));
            }
            float u = bounds[a0 + l];
            if (!(lbs - u >= SkipMargin * (lbs + u))) need |= 1u << l;
        }
        return need;
    }

    public int[] GreedyCoreset(DeviceTensor features, int count, ReadOnlySpan<int> starts) =>
        GreedyCoresetBounded(features, count, starts);

    /// <summary>Euclidean distance of two d-vectors: the one routine both coreset loops use (fixed summation order).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe float CoresetDistance(float* a, float* b, int d)
    {
        int t = 0;
        float s;
        if (Vector512.IsHardwareAccelerated && d >= 16)
        {
            var acc = Vector512<float>.Zero;
            for (; t <= d - 16; t += 16)
            {
                var diff = Vector512.Load(a + t) - Vector512.Load(b + t);
                acc = Vector512.FusedMultiplyAdd(diff, diff, acc);
            }
            s = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated && d >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; t <= d - 8; t += 8)
            {
                var diff = Vector256.Load(a + t) - Vector256.Load(b + t);
                acc = Vector256.FusedMultiplyAdd(diff, diff, acc);
            }
            s = Vector256.Sum(acc);
        }
        else s = 0;
        for (; t < d; t++) { float diff = a[t] - b[t]; s += diff * diff; }
        return MathF.Sqrt(s);
    }

    /// <summary>Each row's mean Euclidean distance to the start rows (summed in double, in start order).</summary>
    unsafe float[] CoresetInitialDistances(float[] x, int n, int d, int[] starts)
    {
        var min = new float[n];
        System.Threading.Tasks.Parallel.For(0, (n + 4095) / 4096, Parallel, chunk =>
        {
            fixed (float* p = x)
            {
                int r1 = Math.Min(n, chunk * 4096 + 4096);
                for (int i = chunk * 4096; i < r1; i++)
                {
                    double s = 0;
                    foreach (int st in starts) s += CoresetDistance(p + (long)i * d, p + (long)st * d, d);
                    min[i] = (float)(s / starts.Length);
                }
            }
        });
        return min;
    }

    /// <summary>The plain loop, SIMD and threaded: every row's distance to every selected centre. The tests' oracle.</summary>
    public unsafe int[] GreedyCoresetPlain(DeviceTensor features, int count, ReadOnlySpan<int> starts)
    {
        var f = HostMemory.AsHost(features);
        LinearAlgebraChecks.Coreset(f, count, starts);
        int n = f[0], d = f[1];
        var x = f.Data;
        var min = CoresetInitialDistances(x, n, d, starts.ToArray());
        var selected = new int[count];
        const int chunk = 8192;
        int chunks = (n + chunk - 1) / chunk;
        var chunkMax = new float[chunks];
        var chunkIdx = new int[chunks];
        for (int it = 0; it < count; it++)
        {
            int best = ArgMax(min);
            selected[it] = best;
            System.Threading.Tasks.Parallel.For(0, chunks, Parallel, c =>
            {
                fixed (float* p = x)
                {
                    float* centre = p + (long)best * d;
                    int r1 = Math.Min(n, c * chunk + chunk);
                    for (int i = c * chunk; i < r1; i++)
                    {
                        float v = CoresetDistance(p + (long)i * d, centre, d);
                        if (v < min[i]) min[i] = v;
                    }
                }
            });
        }
        return selected;
    }

    static int ArgMax(float[] values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    /// <summary>One cluster: rows currently assigned to one selected centre.</summary>
    sealed class CoresetCluster
    {
        public int[] Members = [];
        public int Count;
        public float Bound;   // ≥ max over members of d_i + e_i (conservative)
        public float MaxD;    // max d_i over members (-inf when empty)
        public int MaxIdx;    // lowest row index attaining MaxD

        public void Summarise(float[] min, float[] e)
        {
            float bound = float.NegativeInfinity, maxD = float.NegativeInfinity;
            int maxIdx = int.MaxValue;
            for (int t = 0; t < Count; t++)
            {
                int i = Members[t];
                float di = min[i];
                float b = di + e[i];
                if (b > bound) bound = b;
                if (di > maxD || (di == maxD && i < maxIdx)) { maxD = di; maxIdx = i; }
            }
            Bound = bound; MaxD = maxD; MaxIdx = maxIdx;
        }
    }

    public unsafe int[] GreedyCoresetBounded(DeviceTensor features, int count, ReadOnlySpan<int> starts)
    {
        var f = HostMemory.AsHost(features);
        LinearAlgebraChecks.Coreset(f, count, starts);
        int n = f[0], d = f[1];
        var x = f.Data;
        var min = CoresetInitialDistances(x, n, d, starts.ToArray());
        var selected = new int[count];
        if (count == 0) return selected;
        var e = new float[n];          // distance to the assigned centre, as computed
        var centres = new float[(long)count * d]; // selected rows, contiguous for the centre-distance scan
        var centreDist = new float[count];
        var pivotDist = new float[(long)PivotCount * count]; // [pivot j][centre a] = dist(centre a, centre j)
        var bounds = new float[count];                        // clusters[a].Bound, contiguous for the SIMD screen
        var clusters = new CoresetCluster[count];
        var visit = new int[count];
        const int serialWork = 16384; // below this many member rows a visit runs on one thread

        // Iteration 0: no centre yet, every row is measured against the first one and joins its cluster.
        int first = ArgMax(min);
        selected[0] = first;
        Array.Copy(x, (long)first * d, centres, 0, d);
        System.Threading.Tasks.Parallel.For(0, (n + 4095) / 4096, Parallel, chunk =>
        {
            fixed (float* p = x)
            {
                int r1 = Math.Min(n, chunk * 4096 + 4096);
                for (int i = chunk * 4096; i < r1; i++)
                {
                    float v = CoresetDistance(p + (long)i * d, p + (long)first * d, d);
                    if (v < min[i]) min[i] = v;
                    e[i] = v;
                }
            }
        });
        var c0 = new CoresetCluster { Members = new int[n], Count = n };
        for (int i = 0; i < n; i++) c0.Members[i] = i;
        c0.Summarise(min, e);
        clusters[0] = c0;
        bounds[0] = c0.Bound;
        pivotDist[0] = 0;

        var movedLock = new object();
        var moved = new List<int>(1024);
        for (int it = 1; it < count; it++)
        {
            // argmax over clusters: highest MaxD, lowest row index on ties.
            float bestD = float.NegativeInfinity;
            int best = int.MaxValue;
            for (int a = 0; a < it; a++)
            {
                var cl = clusters[a];
                if (cl.MaxD > bestD || (cl.MaxD == bestD && cl.MaxIdx < best)) { bestD = cl.MaxD; best = cl.MaxIdx; }
            }
            selected[it] = best;
            Array.Copy(x, (long)best * d, centres, (long)it * d, d);

            // Clusters the triangle inequality cannot rule out. dist(c, a) is bounded below through the pivots
            // (the first centres): dist(c, a) ≥ |dist(c, P_j) − dist(a, P_j)|, each side less a relative margin
            // for the rounding of the two distances. Only clusters whose pivot bound does not already clear
            // U_a get their exact centre distance.
            int nc = it, np = Math.Min(PivotCount, it);
            int nv = 0;
            long work = 0;
            fixed (float* pc = centres, pd = pivotDist, pb = bounds)
            {
                float* cNew = pc + (long)it * d;
                Span<float> cp = stackalloc float[PivotCount];
                for (int j = 0; j < np; j++) cp[j] = CoresetDistance(cNew, pc + (long)j * d, d);
                for (int a0 = 0; a0 < nc; a0 += 16)
                {
                    int lanes = Math.Min(16, nc - a0);
                    uint need = PivotScreen(pd, pb, cp, np, count, a0, lanes);
                    while (need != 0)
                    {
                        int a = a0 + System.Numerics.BitOperations.TrailingZeroCount(need);
                        need &= need - 1;
                        var cl = clusters[a];
                        if (cl.Count == 0) continue;
                        float cd = CoresetDistance(pc + (long)a * d, cNew, d);
                        centreDist[a] = cd;
                        if (cd - cl.Bound >= SkipMargin * (cd + cl.Bound)) continue;
                        visit[nv++] = a;
                        work += cl.Count;
                    }
                }
                // The new centre's distances to the pivots (and, while it is one, every centre's distance to it).
                if (it < PivotCount)
                    for (int a = 0; a <= it; a++) pd[(long)it * count + a] = CoresetDistance(pc + (long)a * d, cNew, d);
                for (int j = 0; j < np; j++) pd[(long)j * count + it] = cp[j];
            }

            moved.Clear();
            if (work < serialWork)
            {
                for (int v = 0; v < nv; v++) VisitCluster(visit[v], best, moved);
            }
            else
            {
                System.Threading.Tasks.Parallel.For(0, nv, Parallel, () => new List<int>(256),
                    (v, _, local) => { VisitCluster(visit[v], best, local); return local; },
                    local => { lock (movedLock) moved.AddRange(local); });
            }
            var created = new CoresetCluster { Members = moved.ToArray(), Count = moved.Count };
            created.Summarise(min, e);
            clusters[it] = created;
            bounds[it] = created.Bound;
            for (int v = 0; v < nv; v++) bounds[visit[v]] = clusters[visit[v]].Bound;
        }
        return selected;

        // Re-measure the members of cluster a that the per-row bound cannot rule out; rows now closer to the
        // new centre than to their own move to the new cluster.
        void VisitCluster(int a, int centreRow, List<int> movedOut)
        {
            var cl = clusters[a];
            float cd = centreDist[a];
            var members = cl.Members;
            int keep = 0;
            fixed (float* p = x)
            {
                float* centre = p + (long)centreRow * d;
                for (int t = 0; t < cl.Count; t++)
                {
                    int i = members[t];
                    float b = min[i] + e[i];
                    if (cd - b >= SkipMargin * (cd + b)) { members[keep++] = i; continue; }
                    float dist = CoresetDistance(p + (long)i * d, centre, d);
                    if (dist < min[i]) min[i] = dist;
                    if (dist < e[i]) { e[i] = dist; movedOut.Add(i); }
                    else members[keep++] = i;
                }
            }
            cl.Count = keep;
            cl.Summarise(min, e);
        }
    }
}
