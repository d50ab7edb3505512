namespace PatchCore.Backends.Cpu;

/// <summary>
/// The linear algebra of the fast backend (MatMul, pairwise distances, k-NN) on the convolution's 8x32
/// register-blocked micro-kernel (GemmKernel): dots[i, j] = a_i · b_j for row-major A [m × d] and a B packed
/// once per call into panels of 32 columns ([panel][t][32]). Work items are tiles of up to 128 rows of A, packed
/// into 8-row panels ([panel][t][8]); for every B panel the tile's 128 x 32 dot products are accumulated over
/// depth blocks (a 32 KB block of the B panel stays in L1 while the 16 A panels pass) and handed to a sink
/// in ascending column order. Each value of B is read once per 128 rows of A.
/// </summary>
internal static unsafe class PackedGemm
{
    public const int NR = GemmKernel.NR, MR = GemmKernel.MR;
    /// <summary>Rows of A per work item: 16 panels of 8.</summary>
    public const int RowTile = 128;
    /// <summary>Reduction block: 256 x 32 floats of a B panel (32 KB) stay in L1.</summary>
    const int DepthBlock = 256;

    /// <summary>Panels of 32 columns needed for <paramref name="columns"/> columns.</summary>
    public static int Panels(int columns) => (columns + NR - 1) / NR;

    /// <summary>
    /// Packs rows [r0, r0 + count) of a row-major [rows × d] matrix, minus <paramref name="shift"/> (if any), as
    /// the columns of B: row r becomes column r of panel r / 32. Missing columns of the last panel are zero.
    /// Writes each packed row's squared norm (in double, then rounded) to <paramref name="norms"/> if given.
    /// </summary>
    public static void PackRowsAsColumns(float[] x, int d, float[]? shift, int panel, int count, float[] packed, float[]? norms)
    {
        long o = (long)panel * d * NR;
        int r0 = panel * NR;
        for (int c = count; c < NR; c++)
            for (int t = 0; t < d; t++) packed[o + (long)t * NR + c] = 0;
        for (int c = 0; c < count; c++)
        {
            long src = (long)(r0 + c) * d;
            double norm = 0;
            for (int t = 0; t < d; t++)
            {
                float v = shift == null ? x[src + t] : x[src + t] - shift[t];
                packed[o + (long)t * NR + c] = v;
                norm += (double)v * v;
            }
            if (norms != null) norms[r0 + c] = (float)norm;
        }
    }

    /// <summary>Packs columns [panel·32, panel·32 + count) of a row-major [d × n] matrix as one B panel.</summary>
    public static void PackColumns(float[] b, int d, int n, int panel, int count, float[] packed)
    {
        long o = (long)panel * d * NR;
        for (int t = 0; t < d; t++)
        {
            var dst = packed.AsSpan((int)(o + (long)t * NR), NR);
            b.AsSpan((int)((long)t * n + panel * NR), count).CopyTo(dst);
            dst[count..].Clear();
        }
    }

    /// <summary>Packs rows [i0, i0 + rows) of A (minus shift) into 8-row panels; squared norms to <paramref name="norms"/>[0..rows).</summary>
    public static void PackTile(float[] a, int d, float[]? shift, int i0, int rows, float[] tile, float[]? norms)
    {
        int panels = (rows + MR - 1) / MR;
        Array.Clear(tile, 0, panels * MR * d);
        for (int r = 0; r < rows; r++)
        {
            long src = (long)(i0 + r) * d, o = (long)(r / MR) * d * MR + r % MR;
            if (shift == null && norms == null)
            {
                for (int t = 0; t < d; t++) tile[o + (long)t * MR] = a[src + t];
                continue;
            }
            double norm = 0;
            for (int t = 0; t < d; t++)
            {
                float v = shift == null ? a[src + t] : a[src + t] - shift[t];
                tile[o + (long)t * MR] = v;
                norm += (double)v * v;
            }
            if (norms != null) norms[r] = (float)norm;
        }
    }

    /// <summary>
    /// The packed tile (rows of A) against every B panel: dots[r·32 + s] = a_r · b_{j0+s} for each panel in
    /// ascending order, handed to the sink with the panel's first column j0 and its valid column count.
    /// </summary>
    public static void Multiply<TSink>(float[] tile, int rows, int d, float[] packedB, int columns, float* dots, ref TSink sink)
        where TSink : struct, IBlockSink
    {
        int aPanels = (rows + MR - 1) / MR, bPanels = Panels(columns);
        float* zero = stackalloc float[MR];
        for (int r = 0; r < MR; r++) zero[r] = 0;
        fixed (float* pa = tile, pb = packedB)
            for (int p = 0; p < bPanels; p++)
            {
                float* bp = pb + (long)p * d * NR;
                for (int t0 = 0; t0 < d; t0 += DepthBlock)
                {
                    int kc = Math.Min(DepthBlock, d - t0);
                    for (int q = 0; q < aPanels; q++)
                        GemmKernel.Tile(kc, pa + (long)q * d * MR + (long)t0 * MR, bp + (long)t0 * NR,
                            dots + q * MR * NR, NR, zero, t0 == 0, null, 0, false, false);
                }
                sink.Take(rows, p * NR, Math.Min(NR, columns - p * NR), dots);
            }
    }

    /// <summary>
    /// A mean row for centring distance computations, rounded to 4 significant bits. Centring removes the
    /// common offset of CNN features, so |q|² + |x|² − 2 q·x no longer loses to cancellation what the norms
    /// exceed the distance by; the rounding (within 1/16 of the mean) keeps x − mean, its products and their
    /// sums exact on data with few significant bits (small integers, exact ties in tests).
    /// </summary>
    public static float[] RoundedMeanRow(float[] x, int rows, int d)
    {
        var mean = QuantizedRows.MeanRow(x, rows, d);
        for (int t = 0; t < d; t++)
            mean[t] = BitConverter.Int32BitsToSingle((BitConverter.SingleToInt32Bits(mean[t]) + (1 << 19)) & ~((1 << 20) - 1));
        return mean;
    }
}

/// <summary>Consumer of one tile's dot products with one B panel: dots[r·32 + s] for rows r &lt; rows, columns j0 + s, s &lt; nj.</summary>
internal unsafe interface IBlockSink
{
    void Take(int rows, int j0, int nj, float* dots);
}
