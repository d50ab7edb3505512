namespace PatchCore.Gpu;

// The ILGPU backend (issue: GPU engine) lives here: GpuBackend : IBackend, one file per kernel.
internal static class Placeholder { }
