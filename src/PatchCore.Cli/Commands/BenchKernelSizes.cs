using PatchCore.Backends;

namespace PatchCore.Cli.Commands;

/// <summary>
/// The problem sizes of `bench kernels`, one preset per use: <see cref="Device"/> the shapes of a real run on a GPU
/// (ResNet18 at batch 256, 80k queries against a 22k bank, a 220k-row coreset), <see cref="Host"/> the CPU's
/// (batch 8, a 16k bank, a 20k-row coreset), <see cref="Quick"/> a smoke run every backend finishes in seconds to
/// a minute (the reference's plain loops and the CUDA emulator included), <see cref="Tiny"/> the tests' (ILGPU's
/// CPU accelerator simulates every GPU thread).
/// </summary>
public sealed record BenchKernelSizes(
    string Name,
    int Batch,
    (string Name, ConvSpec Spec, int H)[] Convs,
    int[] Activation,          // relu, add, max pool: the stem's output
    int[] PoolInput,           // the 3x3 average pool and the global average pool: a layer2 map
    (int N, int C2, int H2, int C3, int H3, int PretrainDim, int TargetDim) Aggregate,
    (int M, int K, int N) MatMul,
    (int M, int N, int D) Pairwise,
    (int M, int N, int D) Neighbours,
    (int N, int D, int Count) Coreset,
    (int N, int Grid, int Out) Maps,
    int[] Transfer,            // upload and download: a batch of input images
    int BackboneBatch)         // 0: no backbone row
{
    static (string, ConvSpec, int)[] ResNetConvs() =>
    [
        ("conv1 7x7/2", new ConvSpec(3, 64, 7, 7, 2, 3, 3, 2, 2), 224),
        ("layer1 3x3", new ConvSpec(64, 64, 3, 3, 1, 1, 1, 1, 1), 56),
        ("layer2.0 3x3/2", new ConvSpec(64, 128, 3, 3, 2, 1, 1, 0, 0), 56),
        ("layer2 3x3", new ConvSpec(128, 128, 3, 3, 1, 1, 1, 1, 1), 28),
        ("layer2.0 down 1x1/2", new ConvSpec(64, 128, 1, 1, 2, 0, 0, 0, 0), 56),
        ("layer3.0 3x3/2", new ConvSpec(128, 256, 3, 3, 2, 1, 1, 0, 0), 28),
        ("layer3 3x3", new ConvSpec(256, 256, 3, 3, 1, 1, 1, 1, 1), 14),
        ("layer3.0 down 1x1/2", new ConvSpec(128, 256, 1, 1, 2, 0, 0, 0, 0), 28),
        ("1x1 s1 (GEMM direct)", new ConvSpec(256, 256, 1, 1, 1, 0, 0, 0, 0), 14),
    ];

    public static BenchKernelSizes Device { get; } = new("device", 256, ResNetConvs(), [256, 64, 112, 112], [256, 128, 28, 28],
        (256, 128, 28, 256, 14, 1024, 1024), (220000, 1024, 128), (2000, 22000, 1024), (80000, 22000, 1024),
        (220000, 128, 22000), (256, 28, 224), [256, 3, 224, 224], 256);

    public static BenchKernelSizes Host { get; } = new("host", 8, ResNetConvs(), [8, 64, 112, 112], [8, 128, 28, 28],
        (8, 128, 28, 256, 14, 1024, 1024), (20000, 1024, 128), (2000, 2000, 1024), (1568, 16384, 1024),
        (20000, 128, 2000), (8, 28, 224), [8, 3, 224, 224], 8);

    public static BenchKernelSizes Quick { get; } = new("quick", 1, ResNetConvs(), [1, 64, 112, 112], [1, 128, 28, 28],
        (1, 128, 28, 256, 14, 1024, 1024), (2000, 1024, 128), (200, 500, 1024), (392, 1000, 1024),
        (4000, 128, 20), (2, 28, 224), [1, 3, 224, 224], 0);

    /// <summary>Tiny widths (a few channels, a few rows) but every op and both aggregation modes.</summary>
    public static BenchKernelSizes Tiny { get; } = new("tiny", 1,
        [
            ("stem 7x7/2", new ConvSpec(3, 8, 7, 7, 2, 3, 3, 2, 2), 12),
            ("3x3", new ConvSpec(8, 8, 3, 3, 1, 1, 1, 1, 1), 6),
            ("down 1x1/2", new ConvSpec(8, 16, 1, 1, 2, 0, 0, 0, 0), 5),
        ],
        [1, 3, 9, 9], [1, 3, 6, 6], (1, 5, 4, 7, 2, 16, 12), (70, 20, 67), (33, 70, 20), (40, 90, 16),
        (300, 8, 2), (2, 5, 13), [1, 3, 8, 8], 0);
}
