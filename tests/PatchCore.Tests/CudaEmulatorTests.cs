using PatchCore.IO;
using System.Diagnostics;
using PatchCore.Backends;
using PatchCore.Backends.Reference;
using PatchCore.Cuda;

namespace PatchCore.Tests;

/// <summary>
/// Builds the CUDA emulator (tests/CudaEmulator: libcuda, libnvrtc and libcublas stand-ins that run kernels/*.cu
/// on the CPU, one fiber per CUDA thread) and starts the native CUDA backend on it, once per test run. Needs only
/// g++; without one the tests skip and say so.
/// </summary>
public sealed class CudaEmulatorFixture : IDisposable
{
    public CudaBackend? Backend { get; }
    public string Reason { get; } = "";
    public string Folder { get; }

    public CudaEmulatorFixture()
    {
        Folder = TestPaths.TempDir();
        // The fibers switch with x86-64 assembly and the driver relies on ELF, memfd and Linux signals.
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture !=
            System.Runtime.InteropServices.Architecture.X64)
        {
            Reason = "the CUDA emulator runs on Linux x64 only";
            return;
        }
        var script = Path.Combine(TestPaths.RepoRoot, "tests", "CudaEmulator", "build.sh");
        // Only stderr is read (build.sh writes nothing else), so the pipe cannot fill up unread.
        var psi = new ProcessStartInfo("bash", [script, Path.Combine(Folder, "lib")]) { RedirectStandardError = true };
        string err;
        int exit;
        try
        {
            using var p = Process.Start(psi)!;
            err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            exit = p.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception e) // no bash
        {
            (err, exit) = (e.Message, -1);
        }
        if (exit != 0)
        {
            Reason = "CUDA emulator not built: " + err.Trim().Split('\n')[0];
            return;
        }
        if (!CudaBackend.TryCreate(false, out var b, out var reason, Path.Combine(Folder, "lib"), Path.Combine(Folder, "cache")))
            throw new InvalidOperationException("the CUDA backend does not start on the emulator: " + reason);
        Backend = b;
    }

    public CudaBackend Get()
    {
        if (Backend == null) Assert.Skip(Reason);
        return Backend!;
    }

    public void Dispose()
    {
        Backend?.Dispose();
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}

/// <summary>One emulator for both classes below, which then run one after the other (the driver's sticky error
/// is process-wide, like a GPU context's).</summary>
[CollectionDefinition("cuda emulator")]
public sealed class CudaEmulatorCollection : ICollectionFixture<CudaEmulatorFixture>;

/// <summary>
/// The native CUDA backend, host code and kernels/*.cu alike, on the CUDA emulator in CI: every op against the
/// reference backend at the tiny sizes and at the GPU check's sizes (fresh random inputs, NaN-poisoned outputs,
/// the same tolerances as on a GPU), the TF32 path (the emulated cuBLAS rounds its inputs to TF32), and the
/// whole-run comparison with the cpu backend. The emulator also checks what a GPU would not report clearly: copies outside an allocation, reads
/// past an allocation's end (guard page), __syncthreads after some threads exited, deadlocked barriers, shuffles
/// from exited lanes, a cuBLAS leading dimension smaller than its matrix. What it cannot show: speed, races
/// between blocks (blocks run one after another), and the GPU's own float rounding (FMA contraction).
/// </summary>
[Collection("cuda emulator")]
public class CudaEmulatorTests(CudaEmulatorFixture fixture)
{
    /// <summary>Every op at the tiny sizes (odd shapes, tile borders) and at the sizes the GPU machine checks
    /// (`bench kernels --check`: many blocks per launch, the coreset's last-block reduction over 16 blocks,
    /// 256-thread top-k merges; about 40 s for all of them).</summary>
    public static TheoryData<string, SelfCheckSize> Ops()
    {
        var d = new TheoryData<string, SelfCheckSize>();
        foreach (var size in new[] { SelfCheckSize.Tiny, SelfCheckSize.Moderate })
            foreach (var op in BackendSelfCheck.OpNames) d.Add(op, size);
        return d;
    }

    public static TheoryData<string> ConvOps => new(BackendSelfCheck.ConvOpNames);

    [Theory]
    [MemberData(nameof(Ops))]
    public void OpMatchesReference(string op, SelfCheckSize size) => CudaChecks.OpMatchesReference(fixture.Get(), op, size, seed: 77);

    [Theory]
    [MemberData(nameof(ConvOps))]
    public void Tf32ConvolutionsWithinTf32Tolerance(string op) => CudaChecks.Tf32ConvolutionWithinTolerance(fixture.Get(), op, SelfCheckSize.Tiny, seed: 78);

    /// <summary>The conv's im2col panels built one image at a time (a budget below one image's panel), as on a GPU
    /// short of memory: the per-chunk input and output offsets must land on the right images.</summary>
    [Theory]
    [MemberData(nameof(ConvOps))]
    public void ConvolutionsWithIm2colChunkedPerImage(string op)
    {
        var b = fixture.Get();
        lock (b)
        {
            long budget = b.Im2colBudgetBytes;
            b.Im2colBudgetBytes = 1;
            try { CudaChecks.OpMatchesReference(b, op, SelfCheckSize.Moderate, seed: 79); }
            finally { b.Im2colBudgetBytes = budget; }
        }
    }

    /// <summary>Both coreset step kernels, fp32 and fp16 storage, on row lengths that take the vectorised one
    /// (d = 8, 128; 1024 fp32 and 1032 fp16 keep the selected row in shared memory instead of registers) and on
    /// lengths that must fall back to the generic one (d = 13; d = 12 in fp16 is 24 bytes, not whole 16-byte
    /// chunks), and the generic one forced: each selects the reference's rows.</summary>
    [Theory]
    [InlineData(true, false, 700, 8)]
    [InlineData(true, true, 700, 8)]
    [InlineData(true, false, 2000, 128)]
    [InlineData(true, true, 2000, 128)]
    [InlineData(true, false, 700, 13)]
    [InlineData(true, true, 700, 12)]
    [InlineData(true, false, 300, 1024)]
    [InlineData(true, true, 300, 1032)]
    [InlineData(false, false, 2000, 128)]
    [InlineData(false, true, 2000, 128)]
    public void CoresetStepKernelsSelectTheReferenceRows(bool vectorized, bool fp16, int n, int d)
    {
        var b = fixture.Get();
        var rng = new Random(n * 31 + d);
        var f = new float[n * d];
        for (int i = 0; i < f.Length; i++)
        {
            f[i] = (float)(rng.NextDouble() * 2 - 1);
            if (fp16) f[i] = (float)(Half)f[i]; // the device's fp16 copy is then exact, and the reference sees the same values
        }
        int[] starts = [rng.Next(n), rng.Next(n), rng.Next(n)];
        int count = n / 10;
        int[] want;
        using (var r = new ReferenceBackend())
        using (var t = r.Upload(f, n, d))
            want = r.GreedyCoreset(t, count, starts);
        lock (b)
        {
            b.CoresetVectorized = vectorized;
            b.CoresetStorage = fp16 ? CoresetStorage.Float16 : CoresetStorage.Float32;
            try
            {
                using var t = b.Upload(f, n, d);
                Assert.Equal(want, b.GreedyCoreset(t, count, starts));
            }
            finally
            {
                b.CoresetVectorized = true;
                b.CoresetStorage = CoresetStorage.Float32;
            }
        }
    }

    [Fact]
    public void WholeRunGivesTheCpuBackendsScores()
    {
        var b = fixture.Get();
        lock (b) WholeRunComparison.AssertMatchesCpu(b);
    }

    /// <summary>
    /// The real network at its real size: the CNTK ResNet18 (asymmetric pads, 2,2,2,3 blocks) on one transistor
    /// image at 224, layer2, layer3 and the official 1024-d patch features on cuda against the cpu backend (the
    /// per-image part of the GPU machine's whole transistor run).
    /// </summary>
    [Fact]
    public void CntkResNet18FeaturesOfARealImageMatchTheCpuBackend()
    {
        var b = fixture.Get();
        string onnx = TestPaths.CntkResNet18Onnx, prep = TestPaths.CntkPreprocessOnnx;
        if (!File.Exists(onnx) || !File.Exists(prep)) Assert.Skip($"CNTK ONNX not restored ({onnx}); run 'dotnet restore'");
        var weights = PatchCore.Weights.Onnx.OnnxResNetConverter.Convert(onnx, "resnet18-cntk", PatchCore.Weights.Onnx.OnnxPreprocess.Read(prep));
        string image = Directory.GetFiles(Path.Combine(TestPaths.SharedData, "mvtec256", "transistor", "test", "bent_lead")).Order().First();
        float[] input = PatchCore.Data.Preprocessing.ToInput(PatchCore.IO.ImageFile.Decode(image), new PatchCore.Data.ResizeSpec(256, 224),
            weights.Metadata.ToNormalization());

        float[][] Run(IBackend k)
        {
            using var net = PatchCore.Backbone.ResNet.Load(k, weights);
            using var x = k.Upload(input, 1, 3, 224, 224);
            var maps = net.Forward(x, "layer2", "layer3");
            try
            {
                using var f = k.AggregatePatchFeatures(maps[0], maps[1], new AggregationSpec());
                var outs = new float[3][];
                int i = 0;
                foreach (var t in new[] { maps[0], maps[1], f })
                {
                    outs[i] = new float[t.Length];
                    k.Download(t, outs[i++]);
                }
                return outs;
            }
            finally { foreach (var m in maps) m.Dispose(); }
        }

        float[][] gpu;
        lock (b) gpu = Run(b);
        using var cpu = new PatchCore.Backends.Cpu.CpuBackend(2);
        var want = Run(cpu);
        Assert.Equal(784 * 1024, gpu[2].Length);
        string[] names = ["layer2", "layer3", "patch features"];
        for (int i = 0; i < 3; i++)
        {
            double e = BackendSelfCheck.Error(gpu[i], want[i]);
            Assert.True(e <= 1e-4, $"{names[i]} of {Path.GetFileName(image)}: relative error {e:E2}");
        }
    }

    [Fact]
    public void DescriptionNamesTheEmulator()
    {
        var b = fixture.Get();
        Assert.Contains("CUDA emulator", b.Description);
        Assert.Contains("sm_80", b.Description);
        Assert.True(b.FreeMemory() > 0);
    }
}

/// <summary>
/// The emulator's own checks, each provoked on purpose through our bindings (a small kernel compiled by the
/// emulated NVRTC and launched through the driver API): if one stopped working, the backend tests above could
/// no longer catch that kind of bug. The collection runs its tests one at a time, so the sticky error each
/// provokes is cleared before the next test touches the backend.
/// </summary>
[Collection("cuda emulator")]
public unsafe class CudaEmulatorSelfTests(CudaEmulatorFixture fixture)
{
    const int LaunchFailed = 719, InvalidValue = 1;

    (PatchCore.Cuda.Native.Driver Cu, nint Lib) Driver()
    {
        fixture.Get();
        string folder = Path.Combine(fixture.Folder, "lib");
        var cu = PatchCore.Cuda.Native.Driver.TryLoad([folder], out var reason, bareNames: false) ?? throw new InvalidOperationException(reason);
        return (cu, System.Runtime.InteropServices.NativeLibrary.Load(Path.Combine(folder, "libcuda.so.1")));
    }

    /// <summary>Compiles and runs `kernel` (one float* argument, n floats) on one block of `threads`; the launch
    /// status at the next synchronisation and the driver's error text.</summary>
    (int Status, string Text) Launch(string source, string kernel, int threads, int n)
    {
        var (cu, lib) = Driver();
        var b = fixture.Get();
        lock (b)
        {
            var nvrtc = PatchCore.Cuda.Native.Nvrtc.TryLoad([Path.Combine(fixture.Folder, "lib")], out var why, bareNames: false)
                        ?? throw new InvalidOperationException(why);
            byte[] image = nvrtc.CompileToCubin(source, "selftest.cu", KernelSource.Options(8, 0));
            nint module, function;
            fixed (byte* p = image) cu.Check(cu.cuModuleLoadData(&module, p), "cuModuleLoadData");
            var name = System.Text.Encoding.ASCII.GetBytes(kernel + "\0");
            fixed (byte* p = name) cu.Check(cu.cuModuleGetFunction(&function, module, p), "cuModuleGetFunction");
            ulong buffer;
            cu.Check(cu.cuMemAlloc_v2(&buffer, (nuint)(n * 4)), "cuMemAlloc_v2");
            ulong arg = buffer;
            void* argp = &arg;
            int launch = cu.cuLaunchKernel(function, 1, 1, 1, (uint)threads, 1, 1, 0, 0, &argp, null);
            int status = launch != 0 ? launch : cu.cuCtxSynchronize();
            string text = cu.ErrorString(status) ?? "";
            var reset = (delegate* unmanaged<void>)System.Runtime.InteropServices.NativeLibrary.GetExport(lib, "pc_emu_reset_sticky_error");
            reset();
            cu.Check(cu.cuMemFree_v2(buffer), "cuMemFree_v2");
            cu.Check(cu.cuModuleUnload(module), "cuModuleUnload");
            return (status, text);
        }
    }

    [Fact]
    public void ACorrectKernelRuns()
    {
        var (status, text) = Launch("""
            extern "C" __global__ void fill(float* x)
            {
                __syncthreads();
                float v = __shfl_xor_sync(0xffffffffu, (float)threadIdx.x, 1);
                x[threadIdx.x] = v;
            }
            """, "fill", 64, 64);
        Assert.True(status == 0, text);
    }

    /// <summary>A kernel bug, the threads per block to launch it with, and what the failure must say.</summary>
    public static TheoryData<string, string, int, string> Bugs => new()
    {
        {
            "__syncthreads after other threads exited", """
            extern "C" __global__ void k(float* x)
            {
                if (threadIdx.x >= 16) return;
                __syncthreads();
                x[threadIdx.x] = 1.f;
            }
            """, 64, "__syncthreads reached by 16 threads"
        },
        {
            "barriers that never meet", """
            extern "C" __global__ void k(float* x)
            {
                float v = 1.f;
                if (threadIdx.x < 16) __syncthreads();                // half a warp waits for the block,
                else v = __shfl_down_sync(0xffffffffu, v, 1);          // the other half for the whole warp
                x[threadIdx.x] = v;
            }
            """, 32, "deadlock"
        },
        {
            "shuffle from an exited lane", """
            extern "C" __global__ void k(float* x)
            {
                if (threadIdx.x >= 16) return;
                x[threadIdx.x] = __shfl_down_sync(0xffffffffu, 2.f, 16);
            }
            """, 32, "has exited"
        },
        {
            "one float past the end", """
            extern "C" __global__ void k(float* x)
            {
                x[threadIdx.x] = x[threadIdx.x + 1] + 1.f;
            }
            """, 32, "past the end of an allocation"
        },
        {
            // What `finetune --backend cuda` hit: a freed tensor's address 0 passed to a kernel (offset so that
            // the read lands inside the null page, not at 0 itself). The address is computed from x (x & 3 = 0)
            // so that the compiler cannot see the null and trap instead.
            "a null device pointer", """
            extern "C" __global__ void k(float* x)
            {
                const float* q = x - ((unsigned long long)x >> 2);
                x[threadIdx.x] = q[threadIdx.x + 196] + 1.f;
            }
            """, 32, "null device pointer"
        },
    };

    [Theory]
    [MemberData(nameof(Bugs))]
    public void AProvokedKernelBugFailsTheLaunch(string bug, string source, int threads, string message)
    {
        var (status, text) = Launch(source, "k", threads, threads);
        Assert.True(status == LaunchFailed, $"{bug}: status {status}");
        Assert.Contains(message, text);
    }

    [Fact]
    public void CopyOutsideAnAllocationIsRejected()
    {
        var (cu, _) = Driver();
        lock (fixture.Get())
        {
            ulong p;
            cu.Check(cu.cuMemAlloc_v2(&p, 16), "cuMemAlloc_v2");
            var host = new float[4];
            fixed (float* h = host)
            {
                Assert.Equal(0, cu.cuMemcpyHtoD_v2(p, h, 16));
                Assert.Equal(InvalidValue, cu.cuMemcpyHtoD_v2(p + 4, h, 16));
                Assert.Equal(InvalidValue, cu.cuMemcpyDtoH_v2(h, p + 8, 12));
            }
            Assert.Equal(InvalidValue, cu.cuMemsetD32_v2(p, 0, 5));
            cu.Check(cu.cuMemFree_v2(p), "cuMemFree_v2");
            Assert.Equal(InvalidValue, cu.cuMemFree_v2(p));
        }
    }

    [Fact]
    public void CublasRejectsALeadingDimensionSmallerThanTheMatrix()
    {
        var (cu, _) = Driver();
        lock (fixture.Get())
        {
            var blas = PatchCore.Cuda.Native.Cublas.TryLoad([Path.Combine(fixture.Folder, "lib")], out var why, bareNames: false)
                       ?? throw new InvalidOperationException(why);
            nint h;
            blas.Check(blas.cublasCreate_v2(&h), "cublasCreate_v2");
            ulong a, b, c;
            cu.Check(cu.cuMemAlloc_v2(&a, 6 * 4), "cuMemAlloc_v2");
            cu.Check(cu.cuMemAlloc_v2(&b, 6 * 4), "cuMemAlloc_v2");
            cu.Check(cu.cuMemAlloc_v2(&c, 4 * 4), "cuMemAlloc_v2");
            float one = 1, zero = 0;
            // C [2x2] = A [2x3] B [3x2], column-major: lda = 2, ldb = 3, ldc = 2 is right; lda = 1 is not.
            Assert.Equal(0, blas.cublasSgemm_v2(h, 0, 0, 2, 2, 3, &one, a, 2, b, 3, &zero, c, 2));
            Assert.Equal(7, blas.cublasSgemm_v2(h, 0, 0, 2, 2, 3, &one, a, 1, b, 3, &zero, c, 2));
            Assert.Equal(7, blas.cublasSgemm_v2(h, 1, 0, 2, 2, 3, &one, a, 2, b, 3, &zero, c, 2)); // Aᵀ stored [3x2] needs lda ≥ 3
            blas.Check(blas.cublasDestroy_v2(h), "cublasDestroy_v2");
            foreach (var p in new[] { a, b, c }) cu.Check(cu.cuMemFree_v2(p), "cuMemFree_v2");
        }
    }

    sealed class Box { public int Value; }

    [Fact]
    public void ManagedNullReferencesStillWorkUnderTheEmulatorsFaultHandler()
    {
        // The emulated driver installs a SIGSEGV handler in this process; faults outside its own memory must
        // reach the .NET runtime's handler, which turns a null dereference into NullReferenceException.
        fixture.Get();
        Box? box = Environment.TickCount == int.MinValue ? new Box() : null;
        Assert.Throws<NullReferenceException>(() => box!.Value++);
    }
}
