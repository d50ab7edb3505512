using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PatchCore.Backends.Cpu;

/// <summary>
/// One run of the bounded greedy coreset (<see cref="CpuBackend.GreedyCoreset"/>): selects exactly what the plain
/// loop of ALGORITHM.md selects, with every d_i bit-identical to the plain loop's, while skipping the distance
/// computations the triangle inequality proves useless. The state lives in fields so each phase is a named method:
///
/// 1. <see cref="Stream"/>: while few rows could be skipped (the first centres leave huge clusters whose bounds
///    are loose), every row is measured against the new centre, row-parallel like the plain loop
///    (<see cref="StreamChunk"/>), which also keeps each row's assigned centre a_i and e_i = dist(i, a_i) as
///    computed. Every <see cref="SwitchCheckEvery"/> iterations it counts the rows the per-row bound would have
///    skipped; once that reaches <see cref="SwitchSkipFraction"/> of the rows, the clustered loop takes over.
/// 2. <see cref="Cluster"/>: the rows are grouped by assigned centre. A cluster keeps U = max(d_i + e_i) over its
///    members and its members' max d_i (lowest row on ties).
/// 3. <see cref="Relayout"/>: the rows (and everything per row) are copied cluster by cluster, each cluster's
///    members in descending d_i + e_i, so a visit reads memory sequentially; redone every
///    <see cref="RelayoutEvery"/> iterations because moves scatter the layout again.
/// 4. Then per iteration: <see cref="ArgMax"/> over the clusters' max d_i gives the new centre c, and
///    <see cref="Visit"/> updates the rows it may have come nearer to: <see cref="ScreenClusters"/> keeps the
///    clusters the triangle inequality cannot rule out (dist(i, c) ≥ dist(c, a) − e_i, so a cluster with
///    dist(c, a) ≥ U is skipped whole; dist(c, a) is first bounded below through pivot centres),
///    <see cref="VisitItem"/> re-measures the members of a piece of a kept cluster whose own bound d_i + e_i
///    does not clear dist(c, a) (int8 filter first, then the exact distance stopping early at d_i) and moves
///    rows now nearer to c than to a_i into c's new cluster, and <see cref="MergeItems"/> compacts each visited
///    cluster and combines the pieces' summaries.
///
/// Every skip test carries a relative safety margin (<see cref="SkipMargin"/>) far above the float rounding of the
/// distances involved, and wherever a distance is computed it comes from <see cref="CpuBackend.CoresetDistance"/>
/// (or its early-stopping twin), the plain loop's routine; so min(d_i, dist(i, c)) is exactly what the plain
/// loop stores, and the selection (lowest index on ties) is the plain loop's.
///
/// Speed on real features (128-d projections) is memory-bound: the bounds skip only part of the rows, so the rest
/// must be read cheaply. Hence the streaming first phase, distances that stop once they provably exceed d_i,
/// visits split in pieces so both cores share a large cluster, summaries taken in the visiting pass, the cluster
/// order layout, and the int8 copy of the rows (<see cref="QuantizedRows"/>) whose rigorous lower bound proves most
/// rows the triangle bound keeps farther than d_i from 128 bytes instead of 512 (transistor, 10%: coreset
/// 41–43 s → 21–24 s in the whole run, same selection; docs/BENCHMARKS.md).
/// </summary>
internal sealed unsafe class BoundedCoreset
{
    /// <summary>Relative margin for the skip test; the float error of a 128..1024-d distance is below 1e-5.</summary>
    const float SkipMargin = 1e-4f;
    /// <summary>Centres used as pivots for the lower bounds on centre-to-centre distances.</summary>
    const int PivotCount = 16;
    /// <summary>Fraction of rows the bounds must be able to skip before the streaming phase hands over to the clustered one.</summary>
    const double SwitchSkipFraction = 0.5;
    /// <summary>While streaming, the switch estimate is taken every this many iterations (it costs a scan of all centres).</summary>
    const int SwitchCheckEvery = 8;
    /// <summary>Rows per streaming work item.</summary>
    const int StreamChunkRows = 4096;
    /// <summary>Rows per work item when visiting clusters: a large cluster is split so both cores share it.</summary>
    const int VisitPiece = 2048;
    /// <summary>Below this many member rows to visit, a visit runs on one thread.</summary>
    const int SerialWork = 16384;
    /// <summary>Iterations between re-layouts of the rows in cluster order (one copy of the rows each).</summary>
    const int RelayoutEvery = 512;

    readonly ParallelOptions parallel;
    readonly float[] x;              // the features, n × d in row order; never written
    readonly int n, d, count;
    readonly int[] selected;         // the centres' rows, in selection order
    readonly float[] centres;        // selected rows, contiguous for the centre-distance scans
    readonly float[] centreDist;     // dist(centre a, newest centre), for the clusters that needed it
    int current;                     // iteration number (= centre index) of the newest centre

    // Per row, in the current layout (row order until the first re-layout; rowOf maps a position to its row).
    float[] rows;                    // the features (x itself until the first re-layout)
    float[] minDist;                 // d_i, the plain loop's running minimum
    float[] assignedDist;            // e_i, distance to the assigned centre as computed
    int[]? rowOf;                    // null while in row order
    sbyte[] quant;                   // the int8 filter's rows (QuantizedRows), with their scale and slack
    float[] quantScale, quantSlack;
    readonly int[] assign;           // assigned centre, kept while streaming (row order)

    // The new centre minus the mean row, and its norm, for the int8 filter.
    readonly float[] mean;
    readonly float[] centreMinusMean;
    float centreMinusMeanNorm;

    // Streaming: per chunk of rows, its max d_i (lowest row on ties) and how many rows the per-row bound would skip.
    readonly int chunks;
    readonly float[] chunkMax;
    readonly int[] chunkIdx, chunkSkip;
    bool estimating;                 // this streaming iteration counts the rows the clustered loop would skip
    readonly Action<int> streamChunk;

    // Clusters, one per centre, as flat arrays (structure of arrays, so the argmax and the screen are linear scans).
    int[][] members = [];            // positions of the members in the current layout
    int[] memberCount = [];
    float[] bounds = [];             // U_a ≥ max over members of d_i + e_i
    float[] maxD = [];               // max d_i over members (-inf when empty)
    int[] maxIdx = [];               // lowest row index attaining it
    float[] pivotDist = [];          // [pivot j][centre a] = dist(centre a, centre j)

    // Visiting: the clusters the screen kept, split into work items (cluster, first member, end, offset into
    // movedBuf where the item's moved rows go), and each item's results.
    int[] visit = [];
    readonly List<(int Cluster, int Start, int End, int Offset)> items = new(1024);
    int[] itemKeep = new int[16], itemMoved = new int[16];
    (float Bound, float MaxD, int MaxIdx)[] itemKept = new (float, float, int)[16], itemNew = new (float, float, int)[16];
    int[] movedBuf = [];
    readonly Action<int> visitItem;

    // Re-layout targets, swapped with the live arrays on each re-layout.
    float[]? rowsSpare, minDistSpare, assignedDistSpare, sortKeys;
    int[]? rowOfSpare;
    sbyte[]? quantSpare;
    float[]? quantScaleSpare, quantSlackSpare;

    /// <param name="x">The rows (n × d), read only.</param>
    /// <param name="initialDistances">Each row's starting d_i (its mean distance to the start rows); updated in place.</param>
    public BoundedCoreset(float[] x, int n, int d, int count, float[] initialDistances, ParallelOptions parallel)
    {
        this.x = x; this.n = n; this.d = d; this.count = count; this.parallel = parallel;
        selected = new int[count];
        rows = x;
        minDist = initialDistances;
        assignedDist = new float[n];
        assign = new int[n];
        centres = new float[(long)count * d];
        centreDist = new float[count];
        chunks = (n + StreamChunkRows - 1) / StreamChunkRows;
        chunkMax = new float[chunks];
        chunkIdx = new int[chunks];
        chunkSkip = new int[chunks];
        mean = QuantizedRows.MeanRow(x, n, d);
        quant = new sbyte[(long)n * d];
        quantScale = new float[n];
        quantSlack = new float[n];
        centreMinusMean = new float[d];
        // Delegates made once: Parallel.For bodies that capture only this, no closure per iteration.
        streamChunk = StreamChunk;
        visitItem = VisitItem;
    }

    /// <summary>
    /// Selects <c>count</c> centres. <paramref name="streamIterations"/> ≥ 0 forces the switch from streaming to
    /// clustered after that many iterations (tests exercise every switch point); −1 is adaptive.
    /// </summary>
    public int[] Run(int streamIterations)
    {
        if (count == 0) return selected;
        System.Threading.Tasks.Parallel.For(0, chunks, parallel, c =>
            QuantizedRows.Quantize(x, d, mean, c * StreamChunkRows, Math.Min(n, c * StreamChunkRows + StreamChunkRows), quant, quantScale, quantSlack));
        int it = Stream(streamIterations);
        if (it >= count) return selected;
        Cluster(it);
        Relayout(it);
        for (; it < count; it++)
        {
            AddCentre(it, ArgMax(it));
            Visit(it);
            if ((it + 1) % RelayoutEvery == 0) Relayout(it + 1);
        }
        return selected;
    }

    /// <summary>The rows selected so far, in selection order (all <c>count</c> after <see cref="Run"/>).</summary>
    public int[] Selected => selected;

    /// <summary>Each row's final d_i, in row order (for tests: it must equal the plain loop's bit for bit).</summary>
    public float[] RowDistances()
    {
        if (rowOf == null) return (float[])minDist.Clone();
        var result = new float[n];
        for (int k = 0; k < n; k++) result[rowOf[k]] = minDist[k];
        return result;
    }

    /// <summary>Records row <paramref name="row"/> as centre <paramref name="it"/>, and y_c = row − mean row with its norm for the int8 filter.</summary>
    void AddCentre(int it, int row)
    {
        selected[it] = row;
        Array.Copy(x, (long)row * d, centres, (long)it * d, d);
        current = it;
        double norm = 0;
        for (int j = 0; j < d; j++) { centreMinusMean[j] = x[(long)row * d + j] - mean[j]; norm += (double)centreMinusMean[j] * centreMinusMean[j]; }
        centreMinusMeanNorm = (float)Math.Sqrt(norm);
    }

    // ---- Streaming phase ----

    /// <summary>Runs streaming iterations until the switch; returns how many centres were selected.</summary>
    int Stream(int streamIterations)
    {
        int best = CpuBackend.ArgMax(minDist);
        int it = 0;
        while (it < count)
        {
            AddCentre(it, best);
            estimating = streamIterations < 0 && it > 0 && it % SwitchCheckEvery == 0;
            if (estimating)
                fixed (float* pc = centres)
                    for (int a = 0; a < it; a++) centreDist[a] = CpuBackend.CoresetDistance(pc + (long)a * d, pc + (long)it * d, d);
            System.Threading.Tasks.Parallel.For(0, chunks, parallel, streamChunk);
            // Chunks in row order with a strict comparison: the lowest index wins ties, as in ArgMax.
            best = chunkIdx[0];
            for (int c = 1; c < chunks; c++) if (chunkMax[c] > chunkMax[best / StreamChunkRows]) best = chunkIdx[c];
            it++;
            if (streamIterations >= 0) { if (it >= streamIterations) break; }
            else if (estimating)
            {
                long skipped = 0;
                for (int c = 0; c < chunks; c++) skipped += chunkSkip[c];
                if (skipped >= SwitchSkipFraction * n) break;
            }
        }
        return it;
    }

    /// <summary>One chunk of rows against the newest centre: d_i, the assignment, the chunk's max d_i and (when estimating) its skippable rows.</summary>
    void StreamChunk(int c)
    {
        int d = this.d, cur = current;
        bool estimate = estimating;
        float[] min = minDist, e = assignedDist, centreDist = this.centreDist;
        int[] assign = this.assign;
        float ycNorm = centreMinusMeanNorm;
        fixed (float* p = x, pyc = centreMinusMean, pss = quantScale, prs = quantSlack)
        fixed (sbyte* pq = quant)
        {
            float* centre = p + (long)selected[cur] * d;
            int r1 = Math.Min(n, c * StreamChunkRows + StreamChunkRows), skip = 0, mi = c * StreamChunkRows;
            float mv = float.NegativeInfinity;
            for (int i = c * StreamChunkRows; i < r1; i++)
            {
                float di = min[i];
                // Stopping early at d_i leaves d_i and the assignment as they are: moving a row to a
                // nearer centre is optional (e_i stays the exact distance to its assigned centre).
                // The first centre measures every row exactly (it assigns them all); later ones try the
                // int8 bound first.
                float v = 0;
                bool below = cur == 0
                    ? CpuBackend.CoresetDistanceBelow(p + (long)i * d, centre, d, float.PositiveInfinity, out v)
                    : !QuantizedRows.ProvesAtLeast(pq + (long)i * d, pss[i], prs[i], pyc, ycNorm, d, di)
                      && CpuBackend.CoresetDistanceBelow(p + (long)i * d, centre, d, di, out v);
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
    }

    // ---- Clustered phase ----

    /// <summary>Groups the rows by assigned centre (the first <paramref name="clusterCount"/> centres) and takes each cluster's summary.</summary>
    void Cluster(int clusterCount)
    {
        members = new int[count][];
        memberCount = new int[count];
        bounds = new float[count];
        maxD = new float[count];
        maxIdx = new int[count];
        for (int a = 0; a < clusterCount; a++) { bounds[a] = float.NegativeInfinity; maxD[a] = float.NegativeInfinity; maxIdx[a] = int.MaxValue; }
        for (int i = 0; i < n; i++) memberCount[assign[i]]++;
        for (int a = 0; a < clusterCount; a++) { members[a] = new int[memberCount[a]]; memberCount[a] = 0; }
        for (int i = 0; i < n; i++)
        {
            int a = assign[i];
            members[a][memberCount[a]++] = i;   // in row order: sequential reads when visited
            float di = minDist[i], b = di + assignedDist[i];
            if (b > bounds[a]) bounds[a] = b;
            if (di > maxD[a]) { maxD[a] = di; maxIdx[a] = i; }
        }
        pivotDist = new float[(long)PivotCount * count];
        fixed (float* pc = centres)
            for (int j = 0; j < Math.Min(PivotCount, clusterCount); j++)
                for (int a = 0; a < clusterCount; a++) pivotDist[(long)j * count + a] = CpuBackend.CoresetDistance(pc + (long)a * d, pc + (long)j * d, d);
        visit = new int[count];
        movedBuf = new int[n];
        rowOf = new int[n];
        for (int i = 0; i < n; i++) rowOf[i] = i;
        quantSpare = new sbyte[(long)n * d];
        quantScaleSpare = new float[n];
        quantSlackSpare = new float[n];
    }

    /// <summary>
    /// Copies the rows cluster by cluster (rowOf maps a position back to its row; ties compare rows). Members
    /// scattered over 85 MB make every visit a cache miss; laid out, a visit is a sequential read.
    /// </summary>
    void Relayout(int clusterCount)
    {
        if (rowsSpare == null || rowsSpare == x)
        {
            // Never write into x (the caller's features): the first swap hands it back as the spare.
            rowsSpare = new float[(long)n * d]; minDistSpare = new float[n]; assignedDistSpare = new float[n]; rowOfSpare = new int[n];
        }
        float[] xs = rows, ms = minDist, es = assignedDist, ss = quantScale, rs = quantSlack;
        int[] os = rowOf!;
        sbyte[] qs = quant;
        float[] xSpare = rowsSpare, mSpare = minDistSpare!, eSpare = assignedDistSpare!, sSpare = quantScaleSpare!, rSpare = quantSlackSpare!;
        int[] oSpare = rowOfSpare!;
        sbyte[] qSpare = quantSpare!;
        int k = 0;
        var keys = sortKeys ??= new float[n];
        for (int a = 0; a < clusterCount; a++)
        {
            var ma = members[a];
            // Members in descending d_i + e_i: the rows the per-row bound cannot skip are those with a large
            // d_i + e_i, so they come first and their rows form one run that the prefetcher streams, instead
            // of every row of a visited cluster being pulled in. The bounds only shrink until the next re-layout,
            // so the order stays roughly right.
            int cnt = memberCount[a];
            for (int t = 0; t < cnt; t++) keys[t] = -(ms[ma[t]] + es[ma[t]]);
            Array.Sort(keys, ma, 0, cnt);
            for (int t = 0; t < cnt; t++, k++)
            {
                int i = ma[t];
                Array.Copy(xs, (long)i * d, xSpare, (long)k * d, d);
                Array.Copy(qs, (long)i * d, qSpare, (long)k * d, d);
                mSpare[k] = ms[i]; eSpare[k] = es[i]; oSpare[k] = os[i]; sSpare[k] = ss[i]; rSpare[k] = rs[i];
                ma[t] = k;
            }
        }
        (rows, rowsSpare) = (xSpare, xs); (minDist, minDistSpare) = (mSpare, ms); (assignedDist, assignedDistSpare) = (eSpare, es);
        (rowOf, rowOfSpare) = (oSpare, os); (quant, quantSpare) = (qSpare, qs);
        (quantScale, quantScaleSpare) = (sSpare, ss); (quantSlack, quantSlackSpare) = (rSpare, rs);
    }

    /// <summary>The row with the highest d_i over the first <paramref name="clusterCount"/> clusters, lowest row index on ties.</summary>
    int ArgMax(int clusterCount)
    {
        float bestD = System.Numerics.Tensors.TensorPrimitives.Max<float>(maxD.AsSpan(0, clusterCount));
        int best = int.MaxValue;
        for (int a = 0; a < clusterCount; a++) if (maxD[a] == bestD && maxIdx[a] < best) best = maxIdx[a];
        return best;
    }

    /// <summary>Brings every d_i up to date with centre <paramref name="it"/>, which becomes the cluster of the rows nearer to it than to their own centre.</summary>
    void Visit(int it)
    {
        int nv = ScreenClusters(it, out long work);
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
        if (work < SerialWork) for (int k = 0; k < ni; k++) VisitItem(k);
        else System.Threading.Tasks.Parallel.For(0, ni, parallel, visitItem);
        MergeItems(it, ni);
    }

    /// <summary>
    /// Fills <see cref="visit"/> with the clusters the triangle inequality cannot rule out for centre
    /// <paramref name="it"/>; returns their number and, in <paramref name="work"/>, their member count.
    /// dist(c, a) is bounded below through the pivots (the first centres): dist(c, a) ≥ |dist(c, P_j) − dist(a, P_j)|,
    /// each side less a relative margin for the rounding of the two distances. Only clusters whose pivot bound
    /// does not already clear U_a get their exact centre distance. Also records the new centre's pivot distances.
    /// </summary>
    int ScreenClusters(int it, out long work)
    {
        int nc = it, np = Math.Min(PivotCount, it);
        int nv = 0;
        work = 0;
        fixed (float* pc = centres, pd = pivotDist, pb = bounds)
        {
            float* cNew = pc + (long)it * d;
            Span<float> cp = stackalloc float[PivotCount];
            for (int j = 0; j < np; j++) cp[j] = CpuBackend.CoresetDistance(cNew, pc + (long)j * d, d);
            for (int a0 = 0; a0 < nc; a0 += 16)
            {
                int lanes = Math.Min(16, nc - a0);
                uint need = PivotScreen(pd, pb, cp, np, count, a0, lanes);
                while (need != 0)
                {
                    int a = a0 + System.Numerics.BitOperations.TrailingZeroCount(need);
                    need &= need - 1;
                    if (memberCount[a] == 0) continue;
                    float cd = CpuBackend.CoresetDistance(pc + (long)a * d, cNew, d);
                    centreDist[a] = cd;
                    if (cd - bounds[a] >= SkipMargin * (cd + bounds[a])) continue;
                    visit[nv++] = a;
                    work += memberCount[a];
                }
            }
            // The new centre's distances to the pivots (and, while it is one, every centre's distance to it).
            if (it < PivotCount)
                for (int a = 0; a <= it; a++) pd[(long)it * count + a] = CpuBackend.CoresetDistance(pc + (long)a * d, cNew, d);
            for (int j = 0; j < np; j++) pd[(long)j * count + it] = cp[j];
        }
        return nv;
    }

    /// <summary>
    /// Bit l set when cluster a0+l may need its exact centre distance: the pivot lower bound
    /// max_j (|d(c,P_j) − d(a,P_j)| − margin·(d(c,P_j) + d(a,P_j))) does not clear the cluster's bound U_a.
    /// With no pivot yet (first iterations) every cluster is flagged.
    /// </summary>
    static uint PivotScreen(float* pivotDist, float* bounds, ReadOnlySpan<float> cp, int np, int stride, int a0, int lanes)
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

    /// <summary>
    /// Re-measures the members of work item <paramref name="k"/> (one piece of a cluster a) that the per-row bound
    /// cannot rule out; rows now closer to the new centre than to their own move to the new cluster. Kept rows
    /// are compacted to the piece's front; the summaries of kept and moved rows are taken in the same pass.
    /// </summary>
    void VisitItem(int k)
    {
        var (a, start, end, off) = items[k];
        int d = this.d;
        float cd = centreDist[a];
        var ma = members[a];
        int keep = start, moved = 0;
        float kb = float.NegativeInfinity, kd = float.NegativeInfinity, mb = float.NegativeInfinity, md = float.NegativeInfinity;
        int kIdx = int.MaxValue, mIdx = int.MaxValue;
        var orig = rowOf!;
        var movedBuf = this.movedBuf;
        float ycNorm = centreMinusMeanNorm;
        fixed (float* p = rows, pm = minDist, pe = assignedDist, pcs = centres, pyc = centreMinusMean, pss = quantScale, prs = quantSlack)
        fixed (sbyte* pq = quant)
        {
            float* centre = pcs + (long)current * d;
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
                    else if (CpuBackend.CoresetDistanceBelow(p + (long)i * d, centre, d, di, out dist)) { if (dist < di) pm[i] = di = dist; }
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

    /// <summary>
    /// Each visited cluster's kept rows made contiguous and its pieces' summaries combined; the moved rows of all
    /// items form cluster <paramref name="it"/>.
    /// </summary>
    void MergeItems(int it, int ni)
    {
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
    }

    /// <summary>Folds one piece's summary into a cluster's: max bound, max d_i with the lowest row on ties.</summary>
    static void Combine(ref float bound, ref float md, ref int idx, (float Bound, float MaxD, int MaxIdx) s)
    {
        if (s.Bound > bound) bound = s.Bound;
        if (s.MaxD > md || (s.MaxD == md && s.MaxIdx < idx)) { md = s.MaxD; idx = s.MaxIdx; }
    }
}
