using PatchCore.Cuda;
using PatchCore.Cuda.Native;

namespace PatchCore.Tests;

/// <summary>The CUDA backend's host-side logic that needs no GPU: library probing, kernel sources and cache, errors.</summary>
public class CudaBindingTests
{
    [Fact]
    public void CandidatesTryNewestMajorFirstThenBareNameBeforeFolders()
    {
        var c = LibraryProbe.Candidates("libnvrtc", LibraryProbe.Majors, ["/a", "/b"]);
        Assert.Equal(["libnvrtc.so.13", "/a/libnvrtc.so.13", "/b/libnvrtc.so.13",
                      "libnvrtc.so.12", "/a/libnvrtc.so.12", "/b/libnvrtc.so.12",
                      "libnvrtc.so", "/a/libnvrtc.so", "/b/libnvrtc.so"], c);
    }

    [Fact]
    public void MajorsNeverExceedTheDriversCudaVersion()
    {
        Assert.Equal([12, 0], LibraryProbe.MajorsFor(12040));
        Assert.Equal([13, 12, 0], LibraryProbe.MajorsFor(13000));
        Assert.Equal([0], LibraryProbe.MajorsFor(11080));
        Assert.Equal(LibraryProbe.Majors, LibraryProbe.MajorsFor(0));
    }

    [Fact]
    public void DirectoryPatternsCoverToolkitDistributionAndPythonWheels()
    {
        var env = new Dictionary<string, string?> { ["CUDA_PATH"] = "/opt/cuda", ["VIRTUAL_ENV"] = "/venv" };
        var p = LibraryProbe.DirectoryPatterns("/home/u", k => env.GetValueOrDefault(k));
        Assert.Equal("/opt/cuda/lib64", p[0]);
        Assert.Contains("/usr/local/cuda/lib64", p);
        Assert.Contains("/usr/local/cuda/targets/x86_64-linux/lib", p);
        Assert.Contains("/usr/lib/x86_64-linux-gnu", p);
        Assert.Contains("/venv/lib/python3*/site-packages/nvidia/*/lib", p);
        Assert.Contains("/usr/local/lib/python3*/dist-packages/nvidia/*/lib", p);
        Assert.Contains("/usr/lib/python3/dist-packages/nvidia/*/lib", p);
        Assert.Contains("/home/u/.local/lib/python3*/site-packages/nvidia/*/lib", p);
        Assert.True(p.ToList().IndexOf("/venv/lib/python3*/site-packages/nvidia/*/lib") < p.ToList().IndexOf("/usr/local/lib/python3*/dist-packages/nvidia/*/lib"));
    }

    [Fact]
    public void ExpandPatternFindsWheelLibFoldersNewestFirst()
    {
        var root = TestPaths.TempDir();
        try
        {
            foreach (var d in new[] { "lib/python3.10/site-packages/nvidia/cublas/lib", "lib/python3.12/site-packages/nvidia/cu13/lib",
                                      "lib/python3.12/site-packages/nvidia/cuda_nvrtc/lib", "lib/python3.12/site-packages/nvidia/nolib" })
                Directory.CreateDirectory(Path.Combine(root, d));
            var found = LibraryProbe.ExpandPattern(Path.Combine(root, "lib/python3*/site-packages/nvidia/*/lib"));
            Assert.Equal([Path.Combine(root, "lib/python3.12/site-packages/nvidia/cuda_nvrtc/lib"),
                          Path.Combine(root, "lib/python3.12/site-packages/nvidia/cu13/lib"),
                          Path.Combine(root, "lib/python3.10/site-packages/nvidia/cublas/lib")], found);
            Assert.Empty(LibraryProbe.ExpandPattern(Path.Combine(root, "nothing/*/lib")));
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void ErrorMessagesAreOneLineNamingCallAndError()
    {
        var m = CudaException.Format("nvrtcCompileProgram(greedy_coreset.cu)", 6, "NVRTC_ERROR_COMPILATION", "greedy_coreset.cu(3): error: x\n  1 error detected\n");
        Assert.Equal("nvrtcCompileProgram(greedy_coreset.cu) failed: NVRTC_ERROR_COMPILATION (greedy_coreset.cu(3): error: x 1 error detected)", m);
        Assert.DoesNotContain('\n', m);
        Assert.Equal("cuMemAlloc_v2 failed: error 2", CudaException.Format("cuMemAlloc_v2", 2, null, null));
        Assert.Equal("CUBLAS_STATUS_NOT_INITIALIZED", Cublas.StatusName(1));
        Assert.Equal("CUBLAS_STATUS_EXECUTION_FAILED", Cublas.StatusName(13));
    }

    [Fact]
    public void CacheKeyDependsOnSourceArchVersionAndOptions()
    {
        string k = KernelSource.CacheKey("src", "sm_90", "13.0", ["-a"]);
        Assert.Equal(64, k.Length);
        Assert.Equal(k, KernelSource.CacheKey("src", "sm_90", "13.0", ["-a"]));
        Assert.NotEqual(k, KernelSource.CacheKey("src2", "sm_90", "13.0", ["-a"]));
        Assert.NotEqual(k, KernelSource.CacheKey("src", "sm_80", "13.0", ["-a"]));
        Assert.NotEqual(k, KernelSource.CacheKey("src", "sm_90", "12.8", ["-a"]));
        Assert.NotEqual(k, KernelSource.CacheKey("src", "sm_90", "13.0", ["-b"]));
        Assert.Equal("--gpu-architecture=sm_90", KernelSource.Options(9, 0)[0]);
    }

    [Fact]
    public void CacheFolderFollowsEnvironment()
    {
        Assert.Equal("/c", KernelSource.CacheFolder(k => k == "PCNATIVE_CUDA_CACHE" ? "/c" : null, "/h"));
        Assert.Equal("/x/pcnative/cuda", KernelSource.CacheFolder(k => k == "XDG_CACHE_HOME" ? "/x" : null, "/h"));
        Assert.Equal("/h/.cache/pcnative/cuda", KernelSource.CacheFolder(_ => null, "/h"));
    }

    [Fact]
    public void CacheWriteIsAtomicAndReadable()
    {
        var dir = Path.Combine(TestPaths.TempDir(), "cache");
        try
        {
            Assert.Null(KernelSource.TryRead(dir, "abc"));
            Assert.True(KernelSource.TryWrite(dir, "abc", [1, 2, 3]));
            Assert.True(KernelSource.TryWrite(dir, "abc", [4, 5]));
            Assert.Equal([4, 5], KernelSource.TryRead(dir, "abc"));
            Assert.Single(Directory.GetFiles(dir)); // no temp files left behind
        }
        finally { Directory.Delete(Path.GetDirectoryName(dir)!, true); }
    }

    [Fact]
    public void KernelSourcesSitBesideTheBinariesWithThePrelude()
    {
        foreach (var m in CudaBackend.Modules)
        {
            string src = KernelSource.Load(KernelSource.DefaultFolder, m);
            Assert.StartsWith("// ---- common.cuh", src);
            Assert.Contains("pc_warp_allsum", src);
            Assert.NotEmpty(CudaBackend.KernelNames(src));
        }
        var names = CudaBackend.KernelNames(KernelSource.Load(KernelSource.DefaultFolder, "greedy_coreset"));
        Assert.Equal(["coreset_init_f32", "coreset_init_f16", "coreset_step_f32", "coreset_step_f16", "coreset_step_vec_f32", "coreset_step_vec_f16", "to_f16"], names);
        Assert.Throws<FileNotFoundException>(() => KernelSource.Load(KernelSource.DefaultFolder, "missing"));
    }

    /// <summary>Every kernels/*.cu is a loaded module, and each opens with the header that leads to its twins:
    /// its kernels one per line, its CPU twin (a file that exists, named as the module), its test, its benchmark.</summary>
    [Fact]
    public void EveryKernelFileIsAModuleWithItsHeader()
    {
        var files = Directory.GetFiles(KernelSource.DefaultFolder, "*.cu").Select(Path.GetFileNameWithoutExtension).Order().ToArray();
        Assert.Equal(CudaBackend.Modules.Order().ToArray(), files);
        foreach (var m in CudaBackend.Modules)
        {
            string text = File.ReadAllText(Path.Combine(KernelSource.DefaultFolder, m + ".cu"));
            string header = text[..text.IndexOf("\n//\n", StringComparison.Ordinal)];
            var names = CudaBackend.KernelNames(text);
            Assert.Contains("// Kernels:", header);
            foreach (var k in names)
                Assert.True(header.Contains(k) || header.Contains(k[..k.LastIndexOf('_')] + "_{f32,f16}"), $"{m}.cu header does not list {k}");
            var twin = System.Text.RegularExpressions.Regex.Match(header, @"// CPU twin: (\S+)").Groups[1].Value;
            Assert.True(File.Exists(Path.Combine(TestPaths.RepoRoot, twin)), $"{m}.cu: CPU twin '{twin}' missing");
            // snake_case of the twin's file name is the module's name (GreedyCoreset.cs -> greedy_coreset).
            string snake = System.Text.RegularExpressions.Regex.Replace(Path.GetFileNameWithoutExtension(twin), "(?<=[a-z0-9])([A-Z])", "_$1").ToLowerInvariant();
            Assert.Equal(m, snake);
            Assert.Contains("// Test: CudaEmulatorTests", header);
            Assert.Contains("// Benchmark: pcnative bench kernels --backend cuda", header);
        }
    }

    [Fact]
    public void TryCreateSucceedsOrSaysWhyInOneLine()
    {
        bool ok = CudaBackend.TryCreate(false, out var b, out var reason);
        if (ok)
        {
            // On a GPU machine: the backend started and describes itself (the no-GPU path is CI's side).
            Assert.Contains("CUDA:", b!.Description);
            b.Dispose();
            return;
        }
        Assert.Null(b);
        Assert.False(string.IsNullOrWhiteSpace(reason));
        Assert.DoesNotContain('\n', reason);
    }
}
