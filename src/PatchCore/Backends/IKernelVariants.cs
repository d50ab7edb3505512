namespace PatchCore.Backends;

/// <summary>
/// A backend with more than one kernel for some ops (a vectorised and a generic coreset step, fp16 or fp32
/// storage, TF32 tensor cores on or off), so `pcnative bench kernels` can time each against the others through
/// one interface instead of reaching into a backend's own switches. Ops are named as <see cref="IBackend"/>'s
/// methods (<c>nameof(IBackend.GreedyCoreset)</c>). A variant may round differently (fp16, TF32): it is a
/// different speed/accuracy point of the same op, not a different op.
/// </summary>
public interface IKernelVariants
{
    /// <summary>The op's variants, in a fixed order; empty when the op has only one kernel.</summary>
    IReadOnlyList<string> Variants(string op);

    /// <summary>Runs <paramref name="op"/> with <paramref name="variant"/> until the returned scope is disposed,
    /// which restores the choice in force before. An unknown op or variant throws <see cref="ArgumentException"/>.</summary>
    IDisposable SelectVariant(string op, string variant);
}
