namespace PatchCore.Backends.Reference;

public sealed partial class ReferenceBackend
{
    /// <summary>Exact k-NN by direct squared distances (double), a stable sort per query: ties keep the lower index.</summary>
    public void NearestNeighbours(DeviceTensor queries, DeviceTensor database, int k, Span<float> distances, Span<int> indices)
    {
        var (m, kk, d) = OpContracts.NearestNeighbours(queries, database, k, distances.Length, indices.Length);
        var q = HostMemory.AsHost(queries).Data;
        var x = HostMemory.AsHost(database).Data;
        var dist = new double[kk];
        var order = new int[kk];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < kk; j++)
            {
                dist[j] = SquaredDistance(q, (long)i * d, x, (long)j * d, d);
                order[j] = j;
            }
            // Insertion-free stable order: compare by distance, then by index.
            Array.Sort(order, (u, v) => dist[u] != dist[v] ? dist[u].CompareTo(dist[v]) : u.CompareTo(v));
            for (int t = 0; t < k; t++)
            {
                distances[i * k + t] = (float)dist[order[t]];
                indices[i * k + t] = order[t];
            }
        }
    }
}
