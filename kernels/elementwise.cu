// Elementwise ops: ReLU and add (the residual add outside a conv).
// Kernels:
//   relu_f32 — y = max(x, 0), NaN kept
//   add_f32  — y = a + b
// CPU twin: src/PatchCore/Backends/Cpu/Elementwise.cs (the truth: src/PatchCore/Backends/Reference/Elementwise.cs)
// Host side: src/PatchCore.Cuda/CudaBackend.Elementwise.cs
// Test: CudaEmulatorTests (CI, on the CPU emulator) and CudaGpuTests (a real GPU), both through BackendSelfCheck.
// Benchmark: pcnative bench kernels --backend cuda
//
// Memory-bound; one thread per output element with grid-stride loops.

extern "C" __global__ void relu_f32(const float* x, float* y, i64 n)
{
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
    {
        float v = x[i];
        y[i] = v > 0.f ? v : (v == v ? 0.f : v);
    }
}

extern "C" __global__ void add_f32(const float* a, const float* b, float* y, i64 n)
{
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
        y[i] = a[i] + b[i];
}
