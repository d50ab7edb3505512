using System.Runtime.InteropServices;
using System.Text;
using PatchCore.Backends;
using PatchCore.Cuda.Native;

namespace PatchCore.Cuda;

/// <summary>How the coreset keeps its projected features on the device.</summary>
public enum CoresetStorage { Float32, Float16 }

/// <summary>
/// The native CUDA backend: our own bindings to the driver API, NVRTC (kernels/*.cu compiled at run time for
/// the device's architecture, cached on disk) and cuBLAS (SGEMM; TF32 tensor cores for the convolutions when
/// allowed). One primary context, one stream; every op is enqueued on that stream and results are read back
/// with a synchronous copy. Every CUDA call is checked: a failure throws <see cref="CudaException"/> with a
/// one-line message naming the call and the error. One file per op, CudaBackend.&lt;Op&gt;.cs beside its
/// kernels/&lt;op&gt;.cu, named as the op's CPU twin in Backends/Cpu/; each op checks its arguments with OpContracts.
/// </summary>
public sealed unsafe partial class CudaBackend : ITrainingBackend, IPoisonableBackend, IFp16CoresetBackend, ITiledNeighboursBackend
{
    /// <summary>The modules in kernels/, each compiled to one cubin: one per IBackend op, named as the op's CPU
    /// file in snake_case (see <see cref="KernelSource"/>); the training ops' (ITrainingBackend) modules are named
    /// after their reference files in Backends/Reference/Training/, their backward kernels beside the forward ones
    /// where the op already had a module (conv2d, elementwise, pooling).</summary>
    public static IReadOnlyList<string> Modules { get; } =
        ["elementwise", "conv2d", "pooling", "aggregate_patch_features", "pairwise_distances", "nearest_neighbours", "greedy_coreset", "anomaly_maps",
         "batch_norm2d", "l2_normalize_rows", "sgd_step", "adam_wstep"];
    /// <summary>Below this much free device memory the backend refuses to start.</summary>
    public const long MinFreeBytes = 512L << 20;

    readonly Driver _cu;
    readonly Nvrtc _nvrtc;
    readonly Cublas _blas;
    readonly int _device;
    readonly nint _ctx;
    readonly nint _stream;
    readonly nint _blasHandle;
    readonly Dictionary<string, nint> _functions = new(StringComparer.Ordinal);
    readonly List<nint> _modules = new();
    bool _disposed;
    DeviceBuffer? _workspace;

    public string Name => "cuda";
    public string Description { get; }
    /// <summary>TF32 tensor cores for the convolutions (settable: bench kernels compares both).</summary>
    public bool AllowTf32 { get; set; }
    /// <summary>Storage of the projected features in <see cref="GreedyCoreset"/> (fp16 halves the traffic).</summary>
    public CoresetStorage CoresetStorage { get; set; } = CoresetStorage.Float32;

    bool IFp16CoresetBackend.CoresetFloat16
    {
        get => CoresetStorage == CoresetStorage.Float16;
        set => CoresetStorage = value ? CoresetStorage.Float16 : CoresetStorage.Float32;
    }

    (int QueryRows, int DatabaseRows) ITiledNeighboursBackend.NeighbourTiles
    {
        get => (QueryTileRows, DatabaseTileRows);
        set => (QueryTileRows, DatabaseTileRows) = value;
    }
    public string DeviceName { get; }
    public int ComputeMajor { get; }
    public int ComputeMinor { get; }
    public int MultiprocessorCount { get; }
    public long TotalMemory { get; }
    public string LibraryPaths => $"{_cu.Path}, {_nvrtc.Path}, {_blas.Path}";

    /// <summary>
    /// Starts the backend on device 0, or says in one line why it cannot (no driver, no device, libraries not
    /// found, too little memory, kernels that do not compile). Never throws for these. `libraryFolder`: take
    /// libcuda, libnvrtc and libcublas from that folder only (the tests' CUDA emulator, tests/CudaEmulator);
    /// `kernelCache`: where compiled kernels are cached (default <see cref="KernelSource.DefaultCacheFolder"/>).
    /// </summary>
    public static bool TryCreate(bool allowTf32, out CudaBackend? backend, out string reason, string? libraryFolder = null,
                                 string? kernelCache = null)
    {
        backend = null;
        try
        {
            bool search = libraryFolder == null;
            var folders = search ? LibraryProbe.ExistingFolders() : [libraryFolder!];
            var cu = Driver.TryLoad(folders, out reason, bareNames: search);
            if (cu == null) return false;
            int r = cu.cuInit(0);
            if (r != 0)
            {
                reason = CudaException.Format("cuInit", r, cu.ErrorName(r), cu.ErrorString(r));
                return false;
            }
            int count;
            cu.Check(cu.cuDeviceGetCount(&count), "cuDeviceGetCount");
            if (count < 1) { reason = "no CUDA device"; return false; }
            // Only library majors the driver can run: a CUDA 13 NVRTC/cuBLAS found first on a CUDA 12 driver would
            // otherwise be taken and fail later (see LibraryProbe.MajorsFor), although a .so.12 sits beside it.
            int drv;
            cu.Check(cu.cuDriverGetVersion(&drv), "cuDriverGetVersion");
            var majors = LibraryProbe.MajorsFor(drv);
            var nvrtc = Nvrtc.TryLoad(folders, out reason, majors, bareNames: search);
            if (nvrtc == null) { reason += $" (driver supports CUDA {drv / 1000}.{drv % 1000 / 10})"; return false; }
            var blas = Cublas.TryLoad(folders, out reason, majors, bareNames: search);
            if (blas == null) { reason += $" (driver supports CUDA {drv / 1000}.{drv % 1000 / 10})"; return false; }
            // Libraries from an explicit folder keep their compiled kernels beside them: the same architecture and NVRTC
            // version from another installation (the emulator's "cubins" are host libraries) must not share a cache.
            kernelCache ??= search ? KernelSource.DefaultCacheFolder : Path.Combine(libraryFolder!, "kernel-cache");
            backend = new CudaBackend(cu, nvrtc, blas, allowTf32, kernelCache);
            long free = backend.FreeMemory();
            if (free < MinFreeBytes)
            {
                reason = $"too little free GPU memory ({free >> 20} MiB free, {MinFreeBytes >> 20} MiB needed)";
                backend.Dispose();
                backend = null;
                return false;
            }
            reason = "";
            return true;
        }
        catch (Exception e) when (e is CudaException or DllNotFoundException or EntryPointNotFoundException
                                      or IOException or BadImageFormatException)
        {
            backend?.Dispose();
            backend = null;
            reason = CudaException.OneLine(e.Message);
            return false;
        }
    }

    CudaBackend(Driver cu, Nvrtc nvrtc, Cublas blas, bool allowTf32, string kernelCache)
    {
        _cu = cu;
        _nvrtc = nvrtc;
        _blas = blas;
        AllowTf32 = allowTf32;
        int dev, major, minor, sms, drv;
        Check(cu.cuDeviceGet(&dev, 0), "cuDeviceGet");
        _device = dev;
        var name = stackalloc byte[256];
        Check(cu.cuDeviceGetName(name, 256, dev), "cuDeviceGetName");
        DeviceName = Marshal.PtrToStringUTF8((nint)name) ?? "?";
        nuint total;
        Check(cu.cuDeviceTotalMem_v2(&total, dev), "cuDeviceTotalMem_v2");
        TotalMemory = (long)total;
        Check(cu.cuDeviceGetAttribute(&major, Driver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev), "cuDeviceGetAttribute(COMPUTE_CAPABILITY_MAJOR)");
        Check(cu.cuDeviceGetAttribute(&minor, Driver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev), "cuDeviceGetAttribute(COMPUTE_CAPABILITY_MINOR)");
        Check(cu.cuDeviceGetAttribute(&sms, Driver.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev), "cuDeviceGetAttribute(MULTIPROCESSOR_COUNT)");
        Check(cu.cuDriverGetVersion(&drv), "cuDriverGetVersion");
        ComputeMajor = major;
        ComputeMinor = minor;
        MultiprocessorCount = sms;
        nint ctx, stream, handle;
        Check(cu.cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
        _ctx = ctx;
        Check(cu.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
        // A blocking stream (flags 0): the synchronous legacy-stream copies of Upload/Download order with it.
        Check(cu.cuStreamCreate(&stream, 0), "cuStreamCreate");
        _stream = stream;
        _blas.Check(_blas.cublasCreate_v2(&handle), "cublasCreate_v2");
        _blasHandle = handle;
        _blas.Check(_blas.cublasSetStream_v2(handle, stream), "cublasSetStream_v2");
        int blasVersion;
        _blas.Check(_blas.cublasGetVersion_v2(handle, &blasVersion), "cublasGetVersion_v2");
        var (nvMajor, nvMinor) = nvrtc.Version();
        LoadModules($"{nvMajor}.{nvMinor}", kernelCache);
        Description = $"CUDA: {DeviceName} (sm_{major}{minor}, {sms} SMs, {TotalMemory / (1L << 30)} GiB), driver {drv / 1000}.{drv % 1000 / 10}, " +
                      $"NVRTC {nvMajor}.{nvMinor}, cuBLAS {blasVersion}, TF32 {(allowTf32 ? "on" : "off")}";
    }

    void LoadModules(string nvrtcVersion, string cache)
    {
        var options = KernelSource.Options(ComputeMajor, ComputeMinor);
        string arch = $"sm_{ComputeMajor}{ComputeMinor}";
        foreach (var m in Modules)
        {
            string src = KernelSource.Load(KernelSource.DefaultFolder, m);
            string key = KernelSource.CacheKey(src, arch, nvrtcVersion, options);
            byte[]? cubin = KernelSource.TryRead(cache, key);
            nint module = 0;
            if (cubin != null)
            {
                fixed (byte* p = cubin)
                    if (_cu.cuModuleLoadData(&module, p) != 0) module = 0; // a stale or foreign cache file: recompile
            }
            if (module == 0)
            {
                cubin = _nvrtc.CompileToCubin(src, m + ".cu", options);
                fixed (byte* p = cubin) Check(_cu.cuModuleLoadData(&module, p), $"cuModuleLoadData({m})");
                KernelSource.TryWrite(cache, key, cubin);
            }
            _modules.Add(module);
            foreach (var fn in KernelNames(src))
            {
                nint f;
                var bytes = Encoding.ASCII.GetBytes(fn + "\0");
                fixed (byte* p = bytes) Check(_cu.cuModuleGetFunction(&f, module, p), $"cuModuleGetFunction({fn})");
                _functions[fn] = f;
            }
        }
    }

    /// <summary>Names of the extern "C" __global__ functions in a source (the kernels the module exports).</summary>
    public static IReadOnlyList<string> KernelNames(string source)
    {
        var names = new List<string>();
        const string marker = "extern \"C\" __global__ void ";
        int at = 0;
        while ((at = source.IndexOf(marker, at, StringComparison.Ordinal)) >= 0)
        {
            at += marker.Length;
            int end = source.IndexOf('(', at);
            if (end > at) names.Add(source[at..end].Trim());
        }
        return names;
    }

    // ---- plumbing -------------------------------------------------------------------------------------

    internal void Check(int result, string call) => _cu.Check(result, call);

    /// <summary>The context is per thread in the driver API; tests and the CLI may call from any thread.</summary>
    void Enter()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Check(_cu.cuCtxSetCurrent(_ctx), "cuCtxSetCurrent");
    }

    public long FreeMemory()
    {
        Enter();
        nuint free, total;
        Check(_cu.cuMemGetInfo_v2(&free, &total), "cuMemGetInfo_v2");
        return (long)free;
    }

    internal ulong Alloc(long bytes)
    {
        ulong p;
        Check(_cu.cuMemAlloc_v2(&p, (nuint)Math.Max(bytes, 4)), $"cuMemAlloc_v2({bytes} bytes)");
        return p;
    }

    internal void Free(ulong ptr)
    {
        if (_disposed) return;
        _cu.cuCtxSetCurrent(_ctx);
        // Kernels still queued may read this memory: finish them first (cheap when the stream is idle).
        Check(_cu.cuStreamSynchronize(_stream), "cuStreamSynchronize");
        Check(_cu.cuMemFree_v2(ptr), "cuMemFree_v2");
    }

    internal DeviceBuffer AllocBuffer(long bytes) => new(this, Alloc(bytes), bytes);

    /// <summary>Scratch memory reused across calls (im2col panels, distance tiles); grows, never shrinks.</summary>
    ulong Workspace(long bytes)
    {
        if (_workspace == null || _workspace.Bytes < bytes)
        {
            Synchronize();
            _workspace?.Dispose();
            _workspace = null;
            _workspace = AllocBuffer(bytes);
        }
        return _workspace.Ptr;
    }

    public void Synchronize()
    {
        Enter();
        Check(_cu.cuStreamSynchronize(_stream), "cuStreamSynchronize");
    }

    internal static CudaTensor T(DeviceTensor t)
    {
        var c = t as CudaTensor ?? throw new ArgumentException($"tensor {t.GetType().Name} does not belong to the cuda backend");
        // Dispose sets Ptr to 0: a kernel handed that address reads page zero, a raw SIGSEGV on a GPU's host
        // process as in the emulator, with no name of the op or the tensor. Fail here instead, in the caller's stack.
        if (c.Ptr == 0) throw new ObjectDisposedException($"cuda tensor {c.ShapeString}", "used after Dispose");
        return c;
    }

    internal static ulong F(float v) => BitConverter.SingleToUInt32Bits(v);
    internal static ulong I(long v) => unchecked((ulong)v);
    internal static ulong D(double v) => BitConverter.DoubleToUInt64Bits(v);

    /// <summary>
    /// Launches a kernel on the stream. Each argument sits in an 8-byte slot (pointers and i64 fill it, int and
    /// float use the low 4 bytes: little-endian), and the driver copies each parameter's own size from its slot.
    /// </summary>
    internal void Launch(string kernel, uint gridX, uint block, uint sharedBytes, ReadOnlySpan<ulong> args)
    {
        if (!_functions.TryGetValue(kernel, out var f)) throw new InvalidOperationException($"kernel {kernel} not loaded");
        if (gridX == 0) return;
        ulong* slots = stackalloc ulong[args.Length];
        void** ptrs = stackalloc void*[args.Length];
        for (int i = 0; i < args.Length; i++) { slots[i] = args[i]; ptrs[i] = &slots[i]; }
        Check(_cu.cuLaunchKernel(f, gridX, 1, 1, block, 1, 1, sharedBytes, _stream, ptrs, null), $"cuLaunchKernel({kernel})");
    }

    /// <summary>Grid for a grid-stride loop over n elements: enough blocks to fill the device, no more than needed.</summary>
    internal uint Grid(long n, int block = 256)
    {
        long blocks = (n + block - 1) / block;
        long cap = (long)MultiprocessorCount * 32;
        return (uint)Math.Max(1, Math.Min(blocks, cap));
    }

    // ---- memory ----------------------------------------------------------------------------------------

    /// <summary>Tests: fill every new tensor with NaN so that an element an op forgets to write fails the comparison.</summary>
    public bool PoisonAllocations { get; set; }

    public DeviceTensor Allocate(params int[] shape)
    {
        Enter();
        long n = Tensors.Tensor.ShapeLength(shape);
        var t = new CudaTensor(this, Alloc(n * 4), shape);
        if (PoisonAllocations && n > 0) Check(_cu.cuMemsetD32_v2(t.Ptr, 0x7FC00000u, (nuint)n), "cuMemsetD32_v2");
        return t;
    }

    public DeviceTensor Upload(ReadOnlySpan<float> data, params int[] shape)
    {
        OpContracts.Upload(data.Length, shape);
        long n = data.Length;
        var t = (CudaTensor)Allocate(shape);
        if (n > 0)
            fixed (float* p = data) Check(_cu.cuMemcpyHtoD_v2(t.Ptr, p, (nuint)(n * 4)), "cuMemcpyHtoD_v2");
        return t;
    }

    public void Download(DeviceTensor source, Span<float> destination)
    {
        var t = T(source);
        OpContracts.Download(t, destination.Length);
        Enter();
        if (t.Length > 0)
            fixed (float* p = destination) Check(_cu.cuMemcpyDtoH_v2(p, t.Ptr, (nuint)(t.Length * 4)), "cuMemcpyDtoH_v2");
    }

    internal void UploadRaw<TItem>(ulong dst, ReadOnlySpan<TItem> data) where TItem : unmanaged
    {
        if (data.IsEmpty) return;
        fixed (TItem* p = data) Check(_cu.cuMemcpyHtoD_v2(dst, p, (nuint)(data.Length * sizeof(TItem))), "cuMemcpyHtoD_v2");
    }

    internal void DownloadRaw<TItem>(ulong src, Span<TItem> data) where TItem : unmanaged
    {
        if (data.IsEmpty) return;
        fixed (TItem* p = data) Check(_cu.cuMemcpyDtoH_v2(p, src, (nuint)(data.Length * sizeof(TItem))), "cuMemcpyDtoH_v2");
    }

    /// <summary>Zeroes count 32-bit words (the coreset's ticket, the distance tile when d = 0).</summary>
    int _cuMemsetZero(ulong p, long count) => _cu.cuMemsetD32_v2(p, 0, (nuint)count);

    /// <summary>Fills a tensor with one float bit pattern (tests poison outputs with NaN).</summary>
    public void Fill(DeviceTensor t, float value)
    {
        Enter();
        if (t.Length > 0) Check(_cu.cuMemsetD32_v2(T(t).Ptr, BitConverter.SingleToUInt32Bits(value), (nuint)t.Length), "cuMemsetD32_v2");
    }

    /// <summary>Device-to-device copy of a whole tensor (used by the bandwidth ceiling of bench kernels).</summary>
    public void Copy(DeviceTensor source, DeviceTensor destination)
    {
        Enter();
        if (destination.Length < source.Length) throw new ArgumentException("copy destination too small");
        Check(_cu.cuMemcpyDtoD_v2(T(destination).Ptr, T(source).Ptr, (nuint)(source.Length * 4)), "cuMemcpyDtoD_v2");
    }

    /// <summary>Median milliseconds of `repeats` runs of an action enqueued on the stream (cuEvent timing), after `warmup` untimed runs.</summary>
    public double TimeMs(Action action, int repeats, int warmup = 1)
    {
        Enter();
        for (int i = 0; i < warmup; i++) action();
        nint a, b;
        Check(_cu.cuEventCreate(&a, 0), "cuEventCreate");
        Check(_cu.cuEventCreate(&b, 0), "cuEventCreate");
        try
        {
            var times = new double[Math.Max(1, repeats)];
            for (int i = 0; i < times.Length; i++)
            {
                Check(_cu.cuEventRecord(a, _stream), "cuEventRecord");
                action();
                Enter();
                Check(_cu.cuEventRecord(b, _stream), "cuEventRecord");
                Check(_cu.cuEventSynchronize(b), "cuEventSynchronize");
                float ms;
                Check(_cu.cuEventElapsedTime(&ms, a, b), "cuEventElapsedTime");
                times[i] = ms;
            }
            Array.Sort(times);
            return times[times.Length / 2];
        }
        finally
        {
            _cu.cuEventDestroy_v2(a);
            _cu.cuEventDestroy_v2(b);
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        try
        {
            _cu.cuCtxSetCurrent(_ctx);
            _cu.cuStreamSynchronize(_stream);
            _workspace?.Dispose();
            _workspace = null;
            if (_blasHandle != 0) _blas.cublasDestroy_v2(_blasHandle);
            foreach (var m in _modules) _cu.cuModuleUnload(m);
            if (_stream != 0) _cu.cuStreamDestroy_v2(_stream);
            _cu.cuDevicePrimaryCtxRelease_v2(_device);
        }
        finally { _disposed = true; }
    }
}
