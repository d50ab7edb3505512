// Elementwise ops: ReLU and add (the residual add outside a conv).
// Kernels:
//   relu_f32 — y = max(x, 0), NaN kept
//   add_f32  — y = a + b
//   relu_backward_f32 — training: dx = dy where ReLU's output y > 0, else 0
// CPU twin: src/PatchCore/Backends/Cpu/Elementwise.cs (the truth: src/PatchCore/Backends/Reference/Elementwise.cs)
// Host side: src/PatchCore.Cuda/CudaBackend.Elementwise.cs (relu_backward_f32: CudaBackend.ActivationPoolingBackward.cs)
// Test: CudaEmulatorTests (CI, on the CPU emulator) and CudaGpuTests (a real GPU), both through BackendSelfCheck;
//   relu_backward_f32: CudaEmulatorTrainingTests and CudaGpuTrainingTests (truth: Reference/Training/Relu.cs).
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

// PyTorch's threshold_backward on the result: the gradient passes where the output is positive (0 at x = 0).
extern "C" __global__ void relu_backward_f32(const float* dy, const float* y, float* dx, i64 n)
{
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
        dx[i] = y[i] > 0.f ? dy[i] : 0.f;
}
