namespace PatchCore.Backends;

/// <summary>
/// The few operations PatchCore needs, implemented four times: the CPU reference (plain loops, the truth in
/// tests), the fast CPU backend (SIMD + threads), ILGPU kernels and native CUDA. Everything above this
/// interface (backbone, patch features, coreset, scoring, pipeline) is written once against it; only the CLI
/// names a concrete backend.
///
/// Conventions: tensors are float32, row-major; images and maps NCHW; feature matrices [rows, dim].
/// Ops return new tensors owned by the caller (dispose them); inputs are never modified.
///
/// Every implementation checks an op's arguments first with the op's method in <see cref="OpContracts"/>, so a
/// bad input fails the same way on every backend. An op's versions share its name: Reference/Conv2d.cs,
/// Cpu/Conv2d.cs, PatchCore.Gpu/Kernels/Conv2d.cs, PatchCore.Cuda/CudaBackend.Conv2d.cs and kernels/conv2d.cu.
/// Host-side helpers the backends share sit beside this interface: <see cref="Resampling"/> (interpolation taps,
/// Gaussian weights, reflect borders) and <see cref="HostMemory"/> (the CPU backends' tensors).
/// </summary>
public interface IBackend : IDisposable
{
    /// <summary>Short name as the CLI spells it: reference, cpu, gpu, cuda.</summary>
    string Name { get; }
    /// <summary>One line saying what it runs on (CPU model and threads, GPU name and memory).</summary>
    string Description { get; }

    // ---- memory -------------------------------------------------------------------------------------
    DeviceTensor Allocate(params int[] shape);
    DeviceTensor Upload(ReadOnlySpan<float> data, params int[] shape);
    void Download(DeviceTensor source, Span<float> destination);

    // ---- backbone -----------------------------------------------------------------------------------
    /// <summary>Prepare a convolution whose BatchNorm is already folded: weight [Cout, Cin, Kh, Kw], bias [Cout].</summary>
    ConvLayer CreateConv(ConvSpec spec, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias);
    /// <summary>y = conv(x) + bias [+ residual] [then ReLU]. x is [N, Cin, H, W]; residual, when given, has y's shape.</summary>
    DeviceTensor Conv2d(DeviceTensor x, ConvLayer conv, DeviceTensor? residual = null, bool relu = false);
    DeviceTensor Relu(DeviceTensor x);
    DeviceTensor Add(DeviceTensor a, DeviceTensor b);
    DeviceTensor MaxPool2d(DeviceTensor x, PoolSpec pool);
    /// <summary>Average pooling, padded cells counted as zeros.</summary>
    DeviceTensor AvgPool2d(DeviceTensor x, PoolSpec pool);
    /// <summary>[N, C, H, W] → [N, C]: mean over each plane.</summary>
    DeviceTensor GlobalAvgPool(DeviceTensor x);

    // ---- patch features -----------------------------------------------------------------------------
    /// <summary>layer2 [N, C2, H, W] and layer3 [N, C3, h, w] → [N*H*W, D] (row = n*H*W + y*W + x).</summary>
    DeviceTensor AggregatePatchFeatures(DeviceTensor layer2, DeviceTensor layer3, AggregationSpec spec);

    // ---- linear algebra, coreset, search ------------------------------------------------------------
    /// <summary>c = a · b for a [M, K], b [K, N] (the random projection of the coreset).</summary>
    DeviceTensor MatMul(DeviceTensor a, DeviceTensor b);
    /// <summary>Squared Euclidean distances d[i, j] = |q_i - x_j|² for q [M, D], x [K, D] → [M, K].</summary>
    DeviceTensor PairwiseSquaredDistances(DeviceTensor queries, DeviceTensor database);
    /// <summary>
    /// The k nearest database rows of every query by squared Euclidean distance, ascending; ties go to the
    /// lower index. Fills distances and indices, each [M * k]. Memory stays bounded for any M and K (tiled).
    /// </summary>
    void NearestNeighbours(DeviceTensor queries, DeviceTensor database, int k, Span<float> distances, Span<int> indices);
    /// <summary>
    /// Approximate greedy coreset (ALGORITHM.md): features [N, d] (already projected). Each row's starting
    /// distance is its mean Euclidean distance to the rows in <paramref name="starts"/>; then `count` times
    /// select the argmax (lowest index on ties) and lower every distance to the Euclidean distance to it.
    /// Returns the selected row indices in order of selection.
    /// </summary>
    int[] GreedyCoreset(DeviceTensor features, int count, ReadOnlySpan<int> starts);

    // ---- anomaly maps -------------------------------------------------------------------------------
    /// <summary>
    /// Patch-score grids [N, gh, gw] → maps [N, outH, outW]: bilinear upsampling (align_corners=false), then a
    /// Gaussian blur (sigma in output pixels, truncate 4 sigma, reflect borders as scipy's gaussian_filter).
    /// </summary>
    DeviceTensor AnomalyMaps(DeviceTensor patchScores, int outH, int outW, float sigma);
}
