using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using PatchCore.Backends;

namespace PatchCore.Gpu;

/// <summary>Which ILGPU accelerator to run on. Auto = CUDA, else OpenCL (never the CPU simulator).</summary>
public enum GpuDeviceKind { Auto, Cuda, OpenCL, Cpu }

/// <summary>
/// The ILGPU backend: every op is a kernel written in C# (one file per op under Kernels/), compiled by ILGPU to
/// PTX (CUDA), OpenCL C, or run on ILGPU's CPU accelerator (a thread simulator used by the tests).
/// Kernels are loaded once in the constructor: loading compiles, and compiling per call would dominate.
/// All launches go to the accelerator's default stream, so ops are ordered without explicit events;
/// Download synchronises.
/// </summary>
public sealed partial class GpuBackend : IBackend, IPoisonableBackend, ITiledNeighboursBackend
{
    readonly Context _context;
    readonly Accelerator _accelerator;

    /// <summary>Group size of every explicitly grouped kernel (GEMM tiles, block reductions).</summary>
    internal const int GroupSize = 256;

    GpuBackend(Context context, Accelerator accelerator)
    {
        _context = context;
        _accelerator = accelerator;
        if (accelerator.MaxNumThreadsPerGroup < GroupSize)
            throw new NotSupportedException($"{accelerator.Name} allows {accelerator.MaxNumThreadsPerGroup} threads per group, the kernels need {GroupSize}");
        LoadElementwise();
        LoadPooling();
        LoadGemm();
        LoadAggregation();
        LoadNearestNeighbours();
        LoadCoreset();
        LoadAnomalyMaps();
    }

    public string Name => "gpu";

    public string Description =>
        $"ILGPU {_accelerator.AcceleratorType}: {_accelerator.Name.Trim()}, {_accelerator.MemorySize / (1024.0 * 1024 * 1024):F1} GiB, " +
        $"{_accelerator.NumMultiprocessors} multiprocessors";

    public AcceleratorType AcceleratorType => _accelerator.AcceleratorType;
    internal Accelerator Accelerator => _accelerator;

    /// <summary>Tests set this: every tensor an op allocates is first filled with NaN, so an element a
    /// kernel forgets to write shows up as NaN instead of a plausible zero.</summary>
    public bool PoisonAllocations { get; set; }

    // ---- creation -------------------------------------------------------------------------------------

    /// <summary>Create on the requested accelerator kind; throws InvalidOperationException with a one-line
    /// reason when there is none or it fails to start.</summary>
    public static GpuBackend Create(GpuDeviceKind kind)
    {
        if (TryCreateKind(kind, out var backend, out string reason)) return backend!;
        throw new InvalidOperationException(reason);
    }

    /// <summary>CUDA device first, then OpenCL, then (only when allowed) ILGPU's CPU accelerator.
    /// On failure reason says, in one line, what was tried and why each failed.</summary>
    public static bool TryCreate(bool allowCpuAccelerator, out GpuBackend? backend, out string reason)
    {
        var reasons = new List<string>();
        foreach (var kind in allowCpuAccelerator
                     ? new[] { GpuDeviceKind.Cuda, GpuDeviceKind.OpenCL, GpuDeviceKind.Cpu }
                     : new[] { GpuDeviceKind.Cuda, GpuDeviceKind.OpenCL })
        {
            if (TryCreateKind(kind, out backend, out string why)) { reason = ""; return true; }
            reasons.Add(why);
        }
        backend = null;
        reason = string.Join("; ", reasons);
        return false;
    }

    static bool TryCreateKind(GpuDeviceKind kind, out GpuBackend? backend, out string reason)
    {
        backend = null;
        if (kind == GpuDeviceKind.Auto)
        {
            if (TryCreateKind(GpuDeviceKind.Cuda, out backend, out string cuda)) { reason = ""; return true; }
            if (TryCreateKind(GpuDeviceKind.OpenCL, out backend, out string cl)) { reason = ""; return true; }
            reason = cuda + "; " + cl;
            return false;
        }
        Context? context = null;
        Accelerator? accelerator = null;
        try
        {
            context = kind switch
            {
                GpuDeviceKind.Cuda => Context.Create(b => Configure(b).Cuda()),
                GpuDeviceKind.OpenCL => Context.Create(b => Configure(b).OpenCL()),
                // 4 threads per warp x 64 warps: a 256-thread group on one simulated multiprocessor; more
                // multiprocessors would only add OS threads competing for the same cores.
                _ => Context.Create(b => Configure(b).CPU(new CPUDevice(4, 64, 1))),
            };
            var wanted = kind switch
            {
                GpuDeviceKind.Cuda => AcceleratorType.Cuda,
                GpuDeviceKind.OpenCL => AcceleratorType.OpenCL,
                _ => AcceleratorType.CPU,
            };
            Device? device = null;
            foreach (var d in context.Devices)
                if (d.AcceleratorType == wanted) { device = d; break; }
            if (device is null)
            {
                reason = $"no {kind} device: ILGPU found none";
                context.Dispose();
                return false;
            }
            accelerator = device.CreateAccelerator(context);
            backend = new GpuBackend(context, accelerator);
            reason = "";
            return true;
        }
        catch (Exception e)
        {
            accelerator?.Dispose();
            context?.Dispose();
            reason = $"no {kind} device: {OneLine(e)}";
            return false;
        }
    }

    static Context.Builder Configure(Context.Builder b) =>
        b.Optimize(OptimizationLevel.O2).Math(MathMode.Fast32BitOnly).EnableAlgorithms();

    /// <summary>ILGPU and driver errors are long and nested; the CLI prints one line.</summary>
    internal static string OneLine(Exception e)
    {
        while (e.InnerException is not null && (e is TypeInitializationException || e.Message.Length == 0)) e = e.InnerException;
        string msg = $"{e.GetType().Name}: {e.Message}";
        int nl = msg.IndexOfAny(['\r', '\n']);
        return nl < 0 ? msg : msg[..nl];
    }

    // ---- memory ---------------------------------------------------------------------------------------

    public DeviceTensor Allocate(params int[] shape) => AllocateTensor(shape);

    internal GpuTensor AllocateTensor(params int[] shape)
    {
        long n = Tensors.Tensor.ShapeLength(shape);
        // ILGPU rejects empty buffers; an empty tensor keeps one unused element.
        var buffer = _accelerator.Allocate1D<float>(Math.Max(1, n));
        var t = new GpuTensor(buffer, shape);
        if (PoisonAllocations && n > 0) Fill(t.View, float.NaN);
        return t;
    }

    public DeviceTensor Upload(ReadOnlySpan<float> data, params int[] shape)
    {
        OpContracts.Upload(data.Length, shape);
        var t = AllocateTensor(shape);
        if (data.Length > 0)
            t.Buffer.View.SubView(0, data.Length).CopyFromCPU(ref MemoryMarshal.GetReference(data), data.Length);
        return t;
    }

    public void Download(DeviceTensor source, Span<float> destination)
    {
        var t = AsGpu(source);
        OpContracts.Download(t, destination.Length);
        _accelerator.Synchronize();
        if (t.Length > 0) t.Buffer.View.SubView(0, t.Length).CopyToCPU(ref MemoryMarshal.GetReference(destination), t.Length);
    }

    internal MemoryBuffer1D<int, Stride1D.Dense> UploadInts(ReadOnlySpan<int> data)
    {
        var b = _accelerator.Allocate1D<int>(Math.Max(1, data.Length));
        if (data.Length > 0) b.View.SubView(0, data.Length).CopyFromCPU(ref MemoryMarshal.GetReference(data), data.Length);
        return b;
    }

    internal void DownloadInts(ArrayView<int> source, Span<int> destination)
    {
        _accelerator.Synchronize();
        if (source.Length > 0) source.CopyToCPU(ref MemoryMarshal.GetReference(destination), source.Length);
    }

    internal static GpuTensor AsGpu(DeviceTensor t) =>
        t as GpuTensor ?? throw new ArgumentException($"tensor {t.GetType().Name} does not belong to the gpu backend");

    public void Synchronize() => _accelerator.Synchronize();

    public void Dispose()
    {
        _accelerator.Dispose();
        _context.Dispose();
    }

    static int CeilDiv(int a, int b) => (a + b - 1) / b;
}
