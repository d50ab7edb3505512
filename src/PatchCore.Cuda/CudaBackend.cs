namespace PatchCore.Cuda;

// The native CUDA backend (issue: GPU engine) lives here: bindings, NVRTC loader of kernels/*.cu, CudaBackend : IBackend.
internal static class Placeholder { }
