using PatchCore.Backends;

namespace PatchCore.Cuda;

/// <summary>GreedyCoreset (kernels/greedy_coreset.cu). CPU twin: Backends/Cpu/GreedyCoreset.cs.</summary>
public sealed partial class CudaBackend
{
    /// <summary>
    /// Use the vectorised coreset step (16-byte loads, a half-warp per row) where the rows allow it: d a multiple of
    /// 4 (fp32) or 8 (fp16). Off: always the generic warp-per-row step. Both select the same rows; `bench kernels`
    /// times both.
    /// </summary>
    public bool CoresetVectorized { get; set; } = true;

    /// <summary>
    /// Approximate greedy coreset on the device (kernels/greedy_coreset.cu): one init launch (mean Euclidean distance to
    /// the start rows), then one coreset_step launch per selection, back to back on the stream. Each launch reads
    /// the previous selection from device memory and its last block writes the next one, so the host only enqueues
    /// and reads the selected indices once at the end. With <see cref="CoresetStorage.Float16"/> the features are
    /// converted to fp16 on the device first (half the traffic; distances still accumulate in fp32). The step is
    /// the vectorised one where the row length allows (<see cref="CoresetVectorized"/>).
    /// </summary>
    public int[] GreedyCoreset(DeviceTensor features, int count, ReadOnlySpan<int> starts)
    {
        OpContracts.GreedyCoreset(features, count, starts);
        int n = features[0], d = features[1];
        if (count == 0) return [];
        Enter();
        bool half = CoresetStorage == CoresetStorage.Float16;
        string suffix = half ? "f16" : "f32";
        DeviceBuffer? f16 = null;
        ulong f = T(features).Ptr;
        const int threads = 256;
        uint blocks = (uint)Math.Max(1, Math.Min((n + 7L) / 8, (long)MultiprocessorCount * 8)); // 8 warps (rows in flight) per block
        using var minD = AllocBuffer(n * 4L);
        using var startBuf = AllocBuffer(starts.Length * 4L);
        using var selected = AllocBuffer(count * 4L);
        using var blockVal = AllocBuffer(blocks * 4L);
        using var blockIdx = AllocBuffer(blocks * 4L);
        using var ticket = AllocBuffer(4);
        try
        {
            if (half)
            {
                f16 = AllocBuffer((long)n * d * 2);
                Launch("to_f16", Grid((long)n * d), 256, 0, [f, f16.Ptr, I((long)n * d)]);
                f = f16.Ptr;
            }
            UploadRaw(startBuf.Ptr, starts);
            Check(_cuMemsetZero(ticket.Ptr, 1), "cuMemsetD32_v2");
            Launch("coreset_init_" + suffix, Grid((long)n * 32), 256, 0, [f, minD.Ptr, I(n), I(d), startBuf.Ptr, I(starts.Length)]);
            uint shared = (uint)(Math.Max(d, 1) * sizeof(float));
            // 16-byte loads need every row to start on a 16-byte boundary: cuMemAlloc gives 256-byte aligned bases,
            // so a row length of whole 16-byte chunks is enough.
            bool vec = CoresetVectorized && d * (half ? 2 : 4) % 16 == 0 && f % 16 == 0;
            string step = (vec ? "coreset_step_vec_" : "coreset_step_") + suffix;
            for (int t = 0; t < count; t++)
                Launch(step, blocks, threads, shared,
                    [f, minD.Ptr, I(n), I(d), selected.Ptr, I(t), I(t == 0 ? 0 : 1), blockVal.Ptr, blockIdx.Ptr, ticket.Ptr]);
            var result = new int[count];
            DownloadRaw(selected.Ptr, result.AsSpan());
            foreach (var r in result)
                if ((uint)r >= (uint)n) throw new InvalidOperationException($"coreset selected row {r} (NaN in the features?)");
            return result;
        }
        finally { f16?.Dispose(); }
    }
}
