namespace PatchCore.Backends;

/// <summary>Shape and argument checks shared by every backend's linear-algebra, coreset and map ops.</summary>
public static class LinearAlgebraChecks
{
    public static (int M, int K, int N) MatMulShape(DeviceTensor a, DeviceTensor b)
    {
        if (a.Rank != 2 || b.Rank != 2 || a[1] != b[0])
            throw new ArgumentException($"matmul of {a.ShapeString} and {b.ShapeString}: needs [M,K]·[K,N]");
        return (a[0], a[1], b[1]);
    }

    /// <summary>Queries [M, D] and database [K, D] → (M, K, D).</summary>
    public static (int M, int K, int D) RowsShape(DeviceTensor queries, DeviceTensor database)
    {
        if (queries.Rank != 2 || database.Rank != 2 || queries[1] != database[1])
            throw new ArgumentException($"queries {queries.ShapeString} and database {database.ShapeString} need [M,D] and [K,D]");
        return (queries[0], database[0], queries[1]);
    }

    public static void NearestNeighbours(int m, int rows, int k, int distancesLength, int indicesLength)
    {
        if (k < 1 || k > rows)
            throw new ArgumentException($"k = {k} nearest neighbours of a database of {rows} rows");
        if (distancesLength < (long)m * k || indicesLength < (long)m * k)
            throw new ArgumentException($"nearest-neighbour outputs need {(long)m * k} elements");
    }

    public static void Coreset(DeviceTensor features, int count, ReadOnlySpan<int> starts)
    {
        if (features.Rank != 2) throw new ArgumentException($"coreset features {features.ShapeString} must be [N, d]");
        int n = features[0];
        if (count < 0 || count > n) throw new ArgumentException($"coreset of {count} rows out of {n}");
        if (starts.Length == 0) throw new ArgumentException("coreset needs at least one starting row");
        foreach (int s in starts)
            if ((uint)s >= (uint)n) throw new ArgumentException($"coreset start row {s} outside 0..{n - 1}");
    }

    public static void AnomalyMaps(DeviceTensor scores, int outH, int outW, float sigma)
    {
        if (scores.Rank != 3) throw new ArgumentException($"patch scores {scores.ShapeString} must be [N, gh, gw]");
        if (outH < 1 || outW < 1) throw new ArgumentException($"anomaly map size {outH}x{outW}");
        if (!(sigma >= 0)) throw new ArgumentException($"Gaussian sigma {sigma} must be non-negative (0 = no blur)");
    }
}
