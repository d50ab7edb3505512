using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PatchCore.Backends.Cpu;

/// <summary>
/// The greedy coreset (farthest-point traversal) of ALGORITHM.md on the CPU. <see cref="GreedyCoresetPlain"/> is the
/// plain loop, every row against every selected centre: the tests' oracle. <see cref="GreedyCoreset"/> runs
/// <see cref="BoundedCoreset"/>, which selects exactly the same rows (every d_i bit-identical) while skipping the
/// distance computations the triangle inequality proves useless. Both measure with <see cref="CoresetDistance"/>,
/// one fixed summation order, which is what makes them agree bit for bit.
/// </summary>
public sealed partial class CpuBackend
{
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
    public int[] GreedyCoresetPlain(DeviceTensor features, int count, ReadOnlySpan<int> starts) =>
        GreedyCoresetPlain(features, count, starts, out _);

    /// <summary><see cref="GreedyCoresetPlain(DeviceTensor, int, ReadOnlySpan{int})"/> that also returns every row's final d_i.</summary>
    internal unsafe int[] GreedyCoresetPlain(DeviceTensor features, int count, ReadOnlySpan<int> starts, out float[] distances)
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
        distances = min;
        return selected;
    }

    /// <summary>Index of the largest value, lowest index on ties.</summary>
    internal static int ArgMax(float[] values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    public int[] GreedyCoresetBounded(DeviceTensor features, int count, ReadOnlySpan<int> starts) =>
        GreedyCoresetBounded(features, count, starts, -1);

    /// <summary>
    /// The bounded coreset (<see cref="BoundedCoreset"/>). <paramref name="streamIterations"/> ≥ 0 forces its switch
    /// from the streaming to the clustered phase after that many iterations (tests exercise every switch point);
    /// −1 is adaptive.
    /// </summary>
    internal int[] GreedyCoresetBounded(DeviceTensor features, int count, ReadOnlySpan<int> starts, int streamIterations) =>
        RunBoundedCoreset(features, count, starts, streamIterations).Selected;

    /// <summary>Runs the bounded coreset and returns its final state (tests read every row's d_i from it).</summary>
    internal BoundedCoreset RunBoundedCoreset(DeviceTensor features, int count, ReadOnlySpan<int> starts, int streamIterations)
    {
        var f = HostMemory.AsHost(features);
        OpContracts.GreedyCoreset(f, count, starts);
        int n = f[0], d = f[1];
        var x = f.Data;
        var min = CoresetInitialDistances(x, n, d, starts.ToArray());
        var coreset = new BoundedCoreset(x, n, d, count, min, Parallel);
        coreset.Run(streamIterations);
        return coreset;
    }
}
