using System.Runtime.InteropServices;

namespace PatchCore.Cuda.Native;

/// <summary>
/// The CUDA driver API (libcuda.so.1) through function pointers resolved once. Types as in cuda.h on 64-bit
/// Linux: CUresult and CUdevice are int, CUdeviceptr is unsigned long long (ulong), size_t is nuint, and the
/// opaque handles (CUcontext, CUmodule, CUfunction, CUstream, CUevent) are pointers (nint).
/// </summary>
public sealed unsafe class Driver
{
    public const int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    public const int CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38;
    public const int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    public const int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;

    public readonly string Path;
    readonly nint _lib;

    public readonly delegate* unmanaged<uint, int> cuInit;
    public readonly delegate* unmanaged<int*, int> cuDriverGetVersion;
    public readonly delegate* unmanaged<int*, int> cuDeviceGetCount;
    public readonly delegate* unmanaged<int*, int, int> cuDeviceGet;
    public readonly delegate* unmanaged<byte*, int, int, int> cuDeviceGetName;
    public readonly delegate* unmanaged<nuint*, int, int> cuDeviceTotalMem_v2;
    public readonly delegate* unmanaged<int*, int, int, int> cuDeviceGetAttribute;
    public readonly delegate* unmanaged<nint*, int, int> cuDevicePrimaryCtxRetain;
    public readonly delegate* unmanaged<int, int> cuDevicePrimaryCtxRelease_v2;
    public readonly delegate* unmanaged<nint, int> cuCtxSetCurrent;
    public readonly delegate* unmanaged<int> cuCtxSynchronize;
    public readonly delegate* unmanaged<ulong*, nuint, int> cuMemAlloc_v2;
    public readonly delegate* unmanaged<ulong, int> cuMemFree_v2;
    public readonly delegate* unmanaged<ulong, void*, nuint, int> cuMemcpyHtoD_v2;
    public readonly delegate* unmanaged<void*, ulong, nuint, int> cuMemcpyDtoH_v2;
    public readonly delegate* unmanaged<ulong, ulong, nuint, int> cuMemcpyDtoD_v2;
    public readonly delegate* unmanaged<ulong, uint, nuint, int> cuMemsetD32_v2;
    public readonly delegate* unmanaged<nuint*, nuint*, int> cuMemGetInfo_v2;
    public readonly delegate* unmanaged<nint*, void*, int> cuModuleLoadData;
    public readonly delegate* unmanaged<nint, int> cuModuleUnload;
    public readonly delegate* unmanaged<nint*, nint, byte*, int> cuModuleGetFunction;
    // cuLaunchKernel(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream, kernelParams, extra)
    public readonly delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int> cuLaunchKernel;
    public readonly delegate* unmanaged<nint*, uint, int> cuStreamCreate;
    public readonly delegate* unmanaged<nint, int> cuStreamDestroy_v2;
    public readonly delegate* unmanaged<nint, int> cuStreamSynchronize;
    public readonly delegate* unmanaged<nint*, uint, int> cuEventCreate;
    public readonly delegate* unmanaged<nint, int> cuEventDestroy_v2;
    public readonly delegate* unmanaged<nint, nint, int> cuEventRecord;
    public readonly delegate* unmanaged<nint, int> cuEventSynchronize;
    public readonly delegate* unmanaged<float*, nint, nint, int> cuEventElapsedTime;
    public readonly delegate* unmanaged<int, byte**, int> cuGetErrorName;
    public readonly delegate* unmanaged<int, byte**, int> cuGetErrorString;

    Driver(nint lib, string path)
    {
        _lib = lib;
        Path = path;
        cuInit = (delegate* unmanaged<uint, int>)Get("cuInit");
        cuDriverGetVersion = (delegate* unmanaged<int*, int>)Get("cuDriverGetVersion");
        cuDeviceGetCount = (delegate* unmanaged<int*, int>)Get("cuDeviceGetCount");
        cuDeviceGet = (delegate* unmanaged<int*, int, int>)Get("cuDeviceGet");
        cuDeviceGetName = (delegate* unmanaged<byte*, int, int, int>)Get("cuDeviceGetName");
        cuDeviceTotalMem_v2 = (delegate* unmanaged<nuint*, int, int>)Get("cuDeviceTotalMem_v2");
        cuDeviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)Get("cuDeviceGetAttribute");
        cuDevicePrimaryCtxRetain = (delegate* unmanaged<nint*, int, int>)Get("cuDevicePrimaryCtxRetain");
        cuDevicePrimaryCtxRelease_v2 = (delegate* unmanaged<int, int>)Get("cuDevicePrimaryCtxRelease_v2");
        cuCtxSetCurrent = (delegate* unmanaged<nint, int>)Get("cuCtxSetCurrent");
        cuCtxSynchronize = (delegate* unmanaged<int>)Get("cuCtxSynchronize");
        cuMemAlloc_v2 = (delegate* unmanaged<ulong*, nuint, int>)Get("cuMemAlloc_v2");
        cuMemFree_v2 = (delegate* unmanaged<ulong, int>)Get("cuMemFree_v2");
        cuMemcpyHtoD_v2 = (delegate* unmanaged<ulong, void*, nuint, int>)Get("cuMemcpyHtoD_v2");
        cuMemcpyDtoH_v2 = (delegate* unmanaged<void*, ulong, nuint, int>)Get("cuMemcpyDtoH_v2");
        cuMemcpyDtoD_v2 = (delegate* unmanaged<ulong, ulong, nuint, int>)Get("cuMemcpyDtoD_v2");
        cuMemsetD32_v2 = (delegate* unmanaged<ulong, uint, nuint, int>)Get("cuMemsetD32_v2");
        cuMemGetInfo_v2 = (delegate* unmanaged<nuint*, nuint*, int>)Get("cuMemGetInfo_v2");
        cuModuleLoadData = (delegate* unmanaged<nint*, void*, int>)Get("cuModuleLoadData");
        cuModuleUnload = (delegate* unmanaged<nint, int>)Get("cuModuleUnload");
        cuModuleGetFunction = (delegate* unmanaged<nint*, nint, byte*, int>)Get("cuModuleGetFunction");
        cuLaunchKernel = (delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int>)Get("cuLaunchKernel");
        cuStreamCreate = (delegate* unmanaged<nint*, uint, int>)Get("cuStreamCreate");
        cuStreamDestroy_v2 = (delegate* unmanaged<nint, int>)Get("cuStreamDestroy_v2");
        cuStreamSynchronize = (delegate* unmanaged<nint, int>)Get("cuStreamSynchronize");
        cuEventCreate = (delegate* unmanaged<nint*, uint, int>)Get("cuEventCreate");
        cuEventDestroy_v2 = (delegate* unmanaged<nint, int>)Get("cuEventDestroy_v2");
        cuEventRecord = (delegate* unmanaged<nint, nint, int>)Get("cuEventRecord");
        cuEventSynchronize = (delegate* unmanaged<nint, int>)Get("cuEventSynchronize");
        cuEventElapsedTime = (delegate* unmanaged<float*, nint, nint, int>)Get("cuEventElapsedTime");
        cuGetErrorName = (delegate* unmanaged<int, byte**, int>)Get("cuGetErrorName");
        cuGetErrorString = (delegate* unmanaged<int, byte**, int>)Get("cuGetErrorString");
    }

    nint Get(string name) =>
        NativeLibrary.TryGetExport(_lib, name, out var p) ? p
        : throw new CudaException($"{Path} lacks the export {name} (driver too old?)");

    /// <summary>Loads the driver (libcuda.so.1 from the loader's path or the usual folders); null with a reason if absent.</summary>
    public static Driver? TryLoad(IReadOnlyList<string> folders, out string reason, bool bareNames = true)
    {
        foreach (var c in new[] { "libcuda.so.1", "libcuda.so" }
                     .SelectMany(n => new[] { n }.Concat(folders.Select(f => System.IO.Path.Combine(f, n)))))
        {
            if (!bareNames && !c.Contains('/')) continue;
            if (c.Contains('/') && !File.Exists(c)) continue;
            if (NativeLibrary.TryLoad(c, out var h))
            {
                try { reason = ""; return new Driver(h, c); }
                catch (CudaException e) { reason = e.Message; return null; }
            }
        }
        reason = bareNames ? "libcuda.so.1 not found (no NVIDIA driver on this machine)" : $"libcuda.so.1 not found in {string.Join(", ", folders)}";
        return null;
    }

    /// <summary>Throws a one-line <see cref="CudaException"/> when a driver call failed.</summary>
    public void Check(int result, string call)
    {
        if (result != 0) throw new CudaException(CudaException.Format(call, result, ErrorName(result), ErrorString(result)));
    }

    public string? ErrorName(int code)
    {
        byte* s = null;
        return cuGetErrorName(code, &s) == 0 && s != null ? Marshal.PtrToStringUTF8((nint)s) : null;
    }

    public string? ErrorString(int code)
    {
        byte* s = null;
        return cuGetErrorString(code, &s) == 0 && s != null ? Marshal.PtrToStringUTF8((nint)s) : null;
    }
}
