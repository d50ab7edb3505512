using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
///
/// Speed on real features (128-d projections) is memory-bound: the bounds skip only part of the rows, so the
/// rest must be read cheaply. Hence (see GreedyCoresetBounded): a streaming first phase while the clusters are
/// too coarse to skip anything, distances that stop once they provably exceed d_i, visits split in pieces so
/// both cores share a large cluster, summaries taken in the visiting pass, the rows re-laid out in cluster
/// order so a visit reads memory sequentially, and an int8 copy of the rows (QuantizedRows) whose rigorous
/// lower bound proves most rows the triangle bound keeps farther than d_i from 128 bytes instead of 512, with
/// each cluster's members sorted by d_i + e_i so the rows a visit must read form one run (transistor, 10%:
/// coreset 41–43 s → 21–24 s in the whole run, same selection; docs/BENCHMARKS.md).
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
        GreedyCoresetBounded(features, count, starts, -1);

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

    /// <summary>
    /// <see cref="CoresetDistance"/> that may stop early: returns false (<paramref name="dist"/> unset) once the
    /// partial sum proves the distance is at least <paramref name="atLeast"/>, otherwise true with the exact
    /// CoresetDistance value. Exact, no margin: every FMA adds a non-negative square to the same lane
    /// accumulators, and rounding is monotone, so each lane (and their Sum, and its square root) can only grow
    /// from the partial to the full value. Real rows are mostly far from a new centre, so most exits come after
    /// a quarter of the row has been read; the loop is memory-bound, so that is most of the saving.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe bool CoresetDistanceBelow(float* a, float* b, int d, float atLeast, out float dist)
    {
        if (!Vector512.IsHardwareAccelerated || d < 16) { dist = CoresetDistance(a, b, d); return true; }
        int t = 0;
        var acc = Vector512<float>.Zero;
        for (; t <= d - 16; t += 16)
        {
            var diff = Vector512.Load(a + t) - Vector512.Load(b + t);
            acc = Vector512.FusedMultiplyAdd(diff, diff, acc);
            if ((t & 31) == 16 && t + 16 < d && MathF.Sqrt(Vector512.Sum(acc)) >= atLeast) { dist = 0; return false; }
        }
        float s = Vector512.Sum(acc);
        for (; t < d; t++) { float diff = a[t] - b[t]; s += diff * diff; }
        dist = MathF.Sqrt(s);
        return true;
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
        OpContracts.GreedyCoreset(f, count, starts);
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

    /// <summary>Fraction of rows the bounds must be able to skip before the streaming phase hands over to the clustered one.</summary>
    const double SwitchSkipFraction = 0.5;
    /// <summary>While streaming, the switch estimate is taken every this many iterations (it costs a scan of all centres).</summary>
    const int SwitchCheckEvery = 8;
    /// <summary>Rows per work item when visiting clusters: a large cluster is split so both cores share it.</summary>
    const int VisitPiece = 2048;
    /// <summary>Iterations between re-layouts of the rows in cluster order (one copy of the rows each).</summary>
    const int RelayoutEvery = 512;

    public int[] GreedyCoresetBounded(DeviceTensor features, int count, ReadOnlySpan<int> starts) =>
        GreedyCoresetBounded(features, count, starts, -1);

    /// <summary>
    /// Two phases. Streaming: while few rows could be skipped (the first centres leave huge clusters whose
    /// bounds are loose), every row is measured against the new centre, row-parallel like the plain loop, which
    /// also keeps each row's assigned centre and e_i; every few iterations it counts the rows the per-row bound
    /// would have skipped. Once that count reaches <see cref="SwitchSkipFraction"/> of the rows, the rows are
    /// grouped into clusters and the clustered (bounded) loop takes over. <paramref name="streamIterations"/>
    /// ≥ 0 forces the switch after that many iterations (tests exercise every switch point); −1 is adaptive.
    /// </summary>
    internal unsafe int[] GreedyCoresetBounded(DeviceTensor features, int count, ReadOnlySpan<int> starts, int streamIterations)
    {
        var f = HostMemory.AsHost(features);
        OpContracts.GreedyCoreset(f, count, starts);
        int n = f[0], d = f[1];
        var x = f.Data;
        var min = CoresetInitialDistances(x, n, d, starts.ToArray());
        var selected = new int[count];
        if (count == 0) return selected;
        var e = new float[n];          // distance to the assigned centre, as computed
        var assign = new int[n];       // assigned centre (iteration number), kept while streaming
        var centres = new float[(long)count * d]; // selected rows, contiguous for the centre-distance scans
        var centreDist = new float[count];

        // ---- Streaming phase ----
        const int chunk = 4096;
        int chunks = (n + chunk - 1) / chunk;
        var chunkMax = new float[chunks];
        var chunkIdx = new int[chunks];
        var chunkSkip = new int[chunks];
        // The int8 filter (QuantizedRows), laid out with the rows from the clustered phase on.
        var mean = QuantizedRows.MeanRow(x, n, d);
        sbyte[] qs = new sbyte[(long)n * d];
        float[] ss = new float[n], rs = new float[n];
        System.Threading.Tasks.Parallel.For(0, chunks, Parallel, c =>
            QuantizedRows.Quantize(x, d, mean, c * chunk, Math.Min(n, c * chunk + chunk), qs, ss, rs));
        var yc = new float[d]; // the new centre minus the mean row
        float ycNorm = 0;
        int best = ArgMax(min);
        int it = 0;
        while (it < count)
        {
            selected[it] = best;
            Array.Copy(x, (long)best * d, centres, (long)it * d, d);
            int cur = it, centreRow = best;
            SetCentre(best);
            bool estimate = streamIterations < 0 && it > 0 && it % SwitchCheckEvery == 0;
            if (estimate)
                fixed (float* pc = centres)
                    for (int a = 0; a < it; a++) centreDist[a] = CoresetDistance(pc + (long)a * d, pc + (long)it * d, d);
            System.Threading.Tasks.Parallel.For(0, chunks, Parallel, c =>
            {
                fixed (float* p = x, pyc = yc, pss = ss, prs = rs)
                fixed (sbyte* pq = qs)
                {
                    float* centre = p + (long)centreRow * d;
                    int r1 = Math.Min(n, c * chunk + chunk), skip = 0, mi = c * chunk;
                    float mv = float.NegativeInfinity;
                    for (int i = c * chunk; i < r1; i++)
                    {
                        float di = min[i];
                        // Stopping early at d_i leaves d_i and the assignment as they are: moving a row to a
                        // nearer centre is optional (e_i stays the exact distance to its assigned centre).
                        // The first centre measures every row exactly (it assigns them all); later ones try the
                        // int8 bound first.
                        float v = 0;
                        bool below = cur == 0
                            ? CoresetDistanceBelow(p + (long)i * d, centre, d, float.PositiveInfinity, out v)
                            : !QuantizedRows.ProvesAtLeast(pq + (long)i * d, pss[i], prs[i], pyc, ycNorm, d, di)
                              && CoresetDistanceBelow(p + (long)i * d, centre, d, di, out v);
                        if (estimate)
                        {
                            // The clustered loop's per-row test, on the values it would see.
                            float b = di + e[i], cd = centreDist[assign[i]];
                            if (cd - b >= SkipMargin * (cd + b)) skip++;
                        }
                        if (below)
                        {
                            if (v < di) min[i] = di = v;
                            if (cur == 0 || v < e[i]) { e[i] = v; assign[i] = cur; }
                        }
                        if (di > mv) { mv = di; mi = i; }
                    }
                    chunkMax[c] = mv; chunkIdx[c] = mi; chunkSkip[c] = skip;
                }
            });
            // Chunks in row order with a strict comparison: the lowest index wins ties, as in ArgMax.
            best = chunkIdx[0];
            for (int c = 1; c < chunks; c++) if (chunkMax[c] > chunkMax[best / chunk]) best = chunkIdx[c];
            it++;
            if (streamIterations >= 0) { if (it >= streamIterations) break; }
            else if (estimate)
            {
                long skipped = 0;
                for (int c = 0; c < chunks; c++) skipped += chunkSkip[c];
                if (skipped >= SwitchSkipFraction * n) break;
            }
        }
        if (it >= count) return selected;

        // ---- Clustered phase ----
        // Clusters as flat arrays (structure of arrays, so the argmax and the screen are linear scans).
        var members = new int[count][];
        var memberCount = new int[count];
        var bounds = new float[count];  // U_a ≥ max over members of d_i + e_i
        var maxD = new float[count];    // max d_i over members (-inf when empty)
        var maxIdx = new int[count];    // lowest row index attaining it
        for (int a = 0; a < it; a++) { bounds[a] = float.NegativeInfinity; maxD[a] = float.NegativeInfinity; maxIdx[a] = int.MaxValue; }
        for (int i = 0; i < n; i++) memberCount[assign[i]]++;
        for (int a = 0; a < it; a++) { members[a] = new int[memberCount[a]]; memberCount[a] = 0; }
        for (int i = 0; i < n; i++)
        {
            int a = assign[i];
            members[a][memberCount[a]++] = i;   // in row order: sequential reads when visited
            float di = min[i], b = di + e[i];
            if (b > bounds[a]) bounds[a] = b;
            if (di > maxD[a]) { maxD[a] = di; maxIdx[a] = i; }
        }
        var pivotDist = new float[(long)PivotCount * count]; // [pivot j][centre a] = dist(centre a, centre j)
        fixed (float* pc = centres)
            for (int j = 0; j < Math.Min(PivotCount, it); j++)
                for (int a = 0; a < it; a++) pivotDist[(long)j * count + a] = CoresetDistance(pc + (long)a * d, pc + (long)j * d, d);

        var visit = new int[count];
        // Work items (cluster, first member, end) and their results; an item's moved rows go to movedBuf at its offset.
        var items = new List<(int Cluster, int Start, int End, int Offset)>(1024);
        var itemKeep = new int[16];
        var itemMoved = new int[16];
        var itemKept = new (float Bound, float MaxD, int MaxIdx)[16];
        var itemNew = new (float Bound, float MaxD, int MaxIdx)[16];
        var movedBuf = new int[n];

        // Rows are addressed by position in a copy laid out cluster by cluster (orig maps a position back to its
        // row; ties compare rows). Members scattered over 85 MB make every visit a cache miss; laid out, a
        // visit is a sequential read. Moves scatter the layout again, so it is redone every few hundred iterations.
        float[] xs = x, ms = min, es = e;
        var os = new int[n];
        for (int i = 0; i < n; i++) os[i] = i;
        float[]? xSpare = null, mSpare = null, eSpare = null, sortKeys = null;
        int[]? oSpare = null;
        sbyte[] qSpare = new sbyte[(long)n * d];
        float[] sSpare = new float[n], rSpare = new float[n];
        Relayout(it);
        const int serialWork = 16384; // below this many member rows a visit runs on one thread

        for (; it < count; it++)
        {
            // argmax over clusters: highest MaxD, lowest row index on ties.
            float bestD = System.Numerics.Tensors.TensorPrimitives.Max<float>(maxD.AsSpan(0, it));
            best = int.MaxValue;
            for (int a = 0; a < it; a++) if (maxD[a] == bestD && maxIdx[a] < best) best = maxIdx[a];
            selected[it] = best;
            Array.Copy(x, (long)best * d, centres, (long)it * d, d);
            SetCentre(best);

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
                        if (memberCount[a] == 0) continue;
                        float cd = CoresetDistance(pc + (long)a * d, cNew, d);
                        centreDist[a] = cd;
                        if (cd - bounds[a] >= SkipMargin * (cd + bounds[a])) continue;
                        visit[nv++] = a;
                        work += memberCount[a];
                    }
                }
                // The new centre's distances to the pivots (and, while it is one, every centre's distance to it).
                if (it < PivotCount)
                    for (int a = 0; a <= it; a++) pd[(long)it * count + a] = CoresetDistance(pc + (long)a * d, cNew, d);
                for (int j = 0; j < np; j++) pd[(long)j * count + it] = cp[j];
            }

            items.Clear();
            int offset = 0;
            for (int v = 0; v < nv; v++)
            {
                int a = visit[v], m = memberCount[a];
                for (int s = 0; s < m; s += VisitPiece) { int end = Math.Min(m, s + VisitPiece); items.Add((a, s, end, offset)); offset += end - s; }
            }
            int ni = items.Count;
            if (itemKeep.Length < ni)
            {
                int size = Math.Max(ni, 2 * itemKeep.Length);
                itemKeep = new int[size]; itemMoved = new int[size];
                itemKept = new (float, float, int)[size]; itemNew = new (float, float, int)[size];
            }
            int centreAt = it;
            if (work < serialWork) for (int k = 0; k < ni; k++) VisitItem(k, centreAt);
            else System.Threading.Tasks.Parallel.For(0, ni, Parallel, k => VisitItem(k, centreAt));

            // Merge: each visited cluster's kept rows made contiguous, its summary combined; moved rows form the new cluster.
            int totalMoved = 0;
            for (int k = 0; k < ni; k++) totalMoved += itemMoved[k];
            var created = new int[totalMoved];
            float nb = float.NegativeInfinity, nd = float.NegativeInfinity;
            int nIdx = int.MaxValue, filled = 0;
            for (int k = 0; k < ni;)
            {
                int a = items[k].Cluster, keep = 0;
                float cb = float.NegativeInfinity, cmd = float.NegativeInfinity;
                int cIdx = int.MaxValue;
                var ma = members[a];
                for (; k < ni && items[k].Cluster == a; k++)
                {
                    var item = items[k];
                    if (item.Start != keep) Array.Copy(ma, item.Start, ma, keep, itemKeep[k]);
                    keep += itemKeep[k];
                    Combine(ref cb, ref cmd, ref cIdx, itemKept[k]);
                    Array.Copy(movedBuf, item.Offset, created, filled, itemMoved[k]);
                    filled += itemMoved[k];
                    Combine(ref nb, ref nd, ref nIdx, itemNew[k]);
                }
                memberCount[a] = keep; bounds[a] = cb; maxD[a] = cmd; maxIdx[a] = cIdx;
            }
            members[it] = created; memberCount[it] = totalMoved;
            bounds[it] = nb; maxD[it] = nd; maxIdx[it] = nIdx;
            if ((it + 1) % RelayoutEvery == 0) Relayout(it + 1);
        }
        return selected;

        // y_c = the new centre's row minus the mean row, and its norm, for the int8 filter.
        void SetCentre(int row)
        {
            double norm = 0;
            for (int j = 0; j < d; j++) { yc[j] = x[(long)row * d + j] - mean[j]; norm += (double)yc[j] * yc[j]; }
            ycNorm = (float)Math.Sqrt(norm);
        }

        void Relayout(int clusterCount)
        {
            if (xSpare == null || xSpare == x)
            {
                xSpare = new float[(long)n * d]; mSpare = new float[n]; eSpare = new float[n]; oSpare = new int[n];
            }
            int k = 0;
            sortKeys ??= new float[n];
            for (int a = 0; a < clusterCount; a++)
            {
                var ma = members[a];
                // Members in descending d_i + e_i: the rows the per-row bound cannot skip are those with a large
                // d_i + e_i, so they come first and their rows form one run that the prefetcher streams, instead
                // of every row of a visited cluster being pulled in. The bounds only shrink until the next re-layout,
                // so the order stays roughly right.
                int cnt = memberCount[a];
                for (int t = 0; t < cnt; t++) sortKeys[t] = -(ms[ma[t]] + es[ma[t]]);
                Array.Sort(sortKeys, ma, 0, cnt);
                for (int t = 0; t < memberCount[a]; t++, k++)
                {
                    int i = ma[t];
                    Array.Copy(xs, (long)i * d, xSpare, (long)k * d, d);
                    Array.Copy(qs, (long)i * d, qSpare, (long)k * d, d);
                    mSpare![k] = ms[i]; eSpare![k] = es[i]; oSpare![k] = os[i]; sSpare[k] = ss[i]; rSpare[k] = rs[i];
                    ma[t] = k;
                }
            }
            (xs, xSpare) = (xSpare, xs); (ms, mSpare) = (mSpare!, ms); (es, eSpare) = (eSpare!, es); (os, oSpare) = (oSpare!, os);
            (qs, qSpare) = (qSpare, qs); (ss, sSpare) = (sSpare, ss); (rs, rSpare) = (rSpare, rs);
        }

        static void Combine(ref float bound, ref float md, ref int idx, (float Bound, float MaxD, int MaxIdx) s)
        {
            if (s.Bound > bound) bound = s.Bound;
            if (s.MaxD > md || (s.MaxD == md && s.MaxIdx < idx)) { md = s.MaxD; idx = s.MaxIdx; }
        }

        // Re-measure the members of one piece of cluster a that the per-row bound cannot rule out; rows now
        // closer to the new centre than to their own move to the new cluster. Kept rows are compacted to the
        // piece's front; the summaries of kept and moved rows are taken in the same pass.
        void VisitItem(int k, int centreAt)
        {
            var (a, start, end, off) = items[k];
            float cd = centreDist[a];
            var ma = members[a];
            int keep = start, moved = 0;
            float kb = float.NegativeInfinity, kd = float.NegativeInfinity, mb = float.NegativeInfinity, md = float.NegativeInfinity;
            int kIdx = int.MaxValue, mIdx = int.MaxValue;
            var orig = os;
            fixed (float* p = xs, pm = ms, pe = es, pcs = centres, pyc = yc, pss = ss, prs = rs)
            fixed (sbyte* pq = qs)
            {
                float* centre = pcs + (long)centreAt * d;
                for (int t = start; t < end; t++)
                {
                    int i = ma[t];
                    // Members are scattered over the rows, so the hardware prefetcher cannot follow: fetch the
                    // bound inputs of a member far ahead, and the row of a nearer one that its bound cannot skip.
                    if (Sse.IsSupported)
                    {
                        if (t + 32 < end) { int j = ma[t + 32]; Sse.Prefetch0(pm + j); Sse.Prefetch0(pe + j); Sse.Prefetch0(pss + j); Sse.Prefetch0(prs + j); }
                        if (t + 8 < end)
                        {
                            int j = ma[t + 8];
                            float bj = pm[j] + pe[j];
                            if (!(cd - bj >= SkipMargin * (cd + bj)))
                            {
                                byte* r = (byte*)(pq + (long)j * d);
                                for (int l = 0; l < d; l += 64) Sse.Prefetch0(r + l);
                            }
                        }
                    }
                    float di = pm[i], ei = pe[i], b = di + ei;
                    if (!(cd - b >= SkipMargin * (cd + b)))
                    {
                        // The int8 filter first: most rows that the triangle bound keeps are still provably
                        // farther than d_i. The rest get the exact distance, stopping early at d_i. Either
                        // way a skipped row neither gets nearer nor moves (moving is optional).
                        float dist;
                        if (QuantizedRows.ProvesAtLeast(pq + (long)i * d, pss[i], prs[i], pyc, ycNorm, d, di)) dist = float.PositiveInfinity;
                        else if (CoresetDistanceBelow(p + (long)i * d, centre, d, di, out dist)) { if (dist < di) pm[i] = di = dist; }
                        else dist = float.PositiveInfinity;
                        if (dist < ei)
                        {
                            pe[i] = dist;
                            movedBuf[off + moved++] = i;
                            float nbv = di + dist;
                            if (nbv > mb) mb = nbv;
                            if (di > md || (di == md && orig[i] < mIdx)) { md = di; mIdx = orig[i]; }
                            continue;
                        }
                        b = di + ei;
                    }
                    ma[keep++] = i;
                    if (b > kb) kb = b;
                    if (di > kd || (di == kd && orig[i] < kIdx)) { kd = di; kIdx = orig[i]; }
                }
            }
            itemKeep[k] = keep - start; itemMoved[k] = moved;
            itemKept[k] = (kb, kd, kIdx); itemNew[k] = (mb, md, mIdx);
        }
    }
}
