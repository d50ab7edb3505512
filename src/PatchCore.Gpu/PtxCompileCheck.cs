using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace PatchCore.Gpu;

/// <summary>
/// Compiles every kernel of the backend to PTX for sm_90 (Hopper) without a GPU: ILGPU's PTX backend is plain
/// managed code. Catches what only the GPU targets reject (managed allocations, unsupported intrinsics or
/// types, shared memory in an implicitly grouped kernel) on machines that have no CUDA device. It does not
/// run ptxas: register pressure and PTX assembly errors still need a real device.
/// </summary>
internal static class PtxCompileCheck
{
    /// <summary>(kernel name, PTX size in characters) for every kernel; throws on the first that fails.</summary>
    public static List<(string Kernel, int PtxChars)> CompileAll()
    {
        using var context = Context.Create(b => b.Cuda().Optimize(OptimizationLevel.O2).Math(MathMode.Fast32BitOnly).EnableAlgorithms());
        using var backend = new PTXBackend(context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, null!);
        var results = new List<(string, int)>();
        foreach (var (name, method, grouped) in Kernels())
        {
            var entry = grouped
                ? EntryPointDescription.FromExplicitlyGroupedKernel(method)
                : EntryPointDescription.FromImplicitlyGroupedKernel(method);
            var compiled = (PTXCompiledKernel)backend.Compile(entry, KernelSpecialization.Empty);
            results.Add((name, compiled.PTXAssembly.Length));
        }
        return results;
    }

    /// <summary>Kernels are the static methods named *Kernel: an Index1D first parameter means implicitly
    /// grouped; the tiled GEMM is listed once per operand combination the backend loads.</summary>
    static IEnumerable<(string, MethodInfo, bool)> Kernels()
    {
        foreach (var m in typeof(GpuBackend).GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public))
        {
            if (!m.Name.EndsWith("Kernel", StringComparison.Ordinal)) continue;
            var ps = m.GetParameters();
            bool implicitGroup = ps.Length > 0 && ps[0].ParameterType == typeof(Index1D);
            yield return (m.Name, m, !implicitGroup);
        }
        var gemm = typeof(TiledGemm).GetMethod(nameof(TiledGemm.Kernel))!;
        foreach (var types in new[]
                 {
                     new[] { typeof(KMajorA), typeof(Im2colB), typeof(ConvEpilogue) },
                     new[] { typeof(RowMajorA), typeof(RowMajorB), typeof(PlainStore) },
                     new[] { typeof(RowMajorA), typeof(RowsAsColumnsB), typeof(SquaredDistanceStore) },
                 })
            yield return ($"TiledGemm<{types[0].Name},{types[1].Name},{types[2].Name}>", gemm.MakeGenericMethod(types), true);
    }
}
