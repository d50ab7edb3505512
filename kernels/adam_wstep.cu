// The AdamW step (torch.optim.AdamW, amsgrad off), in place on a parameter and its two moments.
// Kernels:
//   adamw_step_f32 — p ·= 1 − lr·wd; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; p −= stepSize·m / (sqrt(v)/sqrt(1−β2^t) + eps)
// CPU twin: src/PatchCore/Backends/Reference/Training/AdamWStep.cs (the module's name is that file's snake_case;
//   the reference is the truth until the fast CPU backend's training ops land)
// Host side: src/PatchCore.Cuda/CudaBackend.AdamWStep.cs
// Test: CudaEmulatorTests' training sibling CudaEmulatorTrainingTests (CI, on the CPU emulator) and CudaGpuTrainingTests (a real GPU).
// Benchmark: pcnative bench kernels --backend cuda does not time this yet (no device has run it)
//
// Memory-bound elementwise update in float32 as PyTorch's. The step's scalars (decay 1 − lr·wd, stepSize =
// lr/(1 − β1^t), sqrt(1 − β2^t), 1 − β1, 1 − β2) are computed once on the host in double and rounded to float.

extern "C" __global__ void adamw_step_f32(float* p, const float* grad, float* m, float* v, float decay, float beta1, float oneMinusBeta1,
                                          float beta2, float oneMinusBeta2, float stepSize, float sqrtCorrection2, float eps, i64 n)
{
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
    {
        float g = grad[i];
        float w = p[i] * decay;
        float mi = beta1 * m[i] + oneMinusBeta1 * g;
        float vi = beta2 * v[i] + oneMinusBeta2 * g * g;
        m[i] = mi;
        v[i] = vi;
        p[i] = w - stepSize * mi / (sqrtf(vi) / sqrtCorrection2 + eps);
    }
}
