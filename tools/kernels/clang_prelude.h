// Declarations NVRTC provides built in, for a syntax check of kernels/*.cu with clang (tools/kernels/check.sh).
// Not used at run time.
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))
#define __forceinline__ __inline__ __attribute__((always_inline))
#include <__clang_cuda_builtin_vars.h>
extern "C" __device__ float sqrtf(float);
extern "C" __device__ double sqrt(double);
extern "C" __device__ float floorf(float);
__device__ float __int_as_float(int);
__device__ void __syncthreads();
__device__ void __threadfence();
__device__ float __shfl_xor_sync(unsigned, float, int);
__device__ float __shfl_down_sync(unsigned, float, int);
__device__ int __shfl_down_sync(unsigned, int, int);
__device__ unsigned atomicAdd(unsigned*, unsigned);
