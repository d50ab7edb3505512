// The SGD-with-momentum step (torch.optim.SGD, dampening 0, no Nesterov), in place on a parameter and its buffer.
// Kernels:
//   sgd_step_f32 — g = grad + wd·p; buf = momentum·buf + g; p −= lr·buf
// CPU twin: src/PatchCore/Backends/Reference/Training/SgdStep.cs (the reference is the truth until the fast CPU
//   backend's training ops land)
// Host side: src/PatchCore.Cuda/CudaBackend.SgdStep.cs
// Test: CudaEmulatorTests' training sibling CudaEmulatorTrainingTests (CI, on the CPU emulator) and CudaGpuTrainingTests (a real GPU).
// Benchmark: pcnative bench kernels --backend cuda does not time this yet (no device has run it)
//
// Memory-bound elementwise update, float32 as PyTorch's (the hyperparameters rounded to float on the host).

extern "C" __global__ void sgd_step_f32(float* p, const float* grad, float* buf, float lr, float momentum, float weightDecay, i64 n)
{
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
    {
        float w = p[i];
        float g = grad[i] + weightDecay * w;
        float b = momentum * buf[i] + g;
        buf[i] = b;
        p[i] = w - lr * b;
    }
}
