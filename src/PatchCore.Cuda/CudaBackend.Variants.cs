using PatchCore.Backends;

namespace PatchCore.Cuda;

/// <summary>
/// The kernel variants `bench kernels` times side by side: Conv2d with fp32 or TF32 cuBLAS math
/// (<see cref="AllowTf32"/>), and GreedyCoreset with fp32 or fp16 storage (<see cref="CoresetStorage"/>) times the
/// vectorised (16-byte loads, half-warp per row) or generic (warp per row) step kernel (<see cref="CoresetVectorized"/>).
/// Selecting sets those switches and the returned scope puts them back.
/// </summary>
public sealed partial class CudaBackend : IKernelVariants
{
    static readonly string[] ConvVariants = ["fp32", "tf32"];
    static readonly string[] CoresetVariants = ["fp32 vec16", "fp32 generic", "fp16 vec16", "fp16 generic"];

    public IReadOnlyList<string> Variants(string op) => op switch
    {
        nameof(IBackend.Conv2d) => ConvVariants,
        nameof(IBackend.GreedyCoreset) => CoresetVariants,
        _ => [],
    };

    public IDisposable SelectVariant(string op, string variant)
    {
        if (!Variants(op).Contains(variant))
            throw new ArgumentException($"cuda: no variant '{variant}' of {op} (has: {string.Join(", ", Variants(op))})");
        bool tf32 = AllowTf32, vec = CoresetVectorized;
        var storage = CoresetStorage;
        if (op == nameof(IBackend.Conv2d)) AllowTf32 = variant == "tf32";
        else
        {
            CoresetStorage = variant.StartsWith("fp16", StringComparison.Ordinal) ? CoresetStorage.Float16 : CoresetStorage.Float32;
            CoresetVectorized = variant.EndsWith("vec16", StringComparison.Ordinal);
        }
        return new Restore(() => { AllowTf32 = tf32; CoresetVectorized = vec; CoresetStorage = storage; });
    }

    sealed class Restore(Action undo) : IDisposable
    {
        Action? _undo = undo;
        public void Dispose() { _undo?.Invoke(); _undo = null; }
    }
}
