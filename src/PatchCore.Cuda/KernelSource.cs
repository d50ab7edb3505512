using System.Security.Cryptography;
using System.Text;

namespace PatchCore.Cuda;

/// <summary>
/// The CUDA C sources in kernels/ (copied beside the binaries) and the on-disk cache of what NVRTC made of them:
/// ~/.cache/pcnative/cuda/&lt;sha256(source, arch, NVRTC version, options)&gt;.cubin, written atomically (temp file,
/// then rename) so that two processes never read half a file.
///
/// Naming: one module per IBackend op, its file the op's CPU/Reference file name in snake_case
/// (Backends/Cpu/GreedyCoreset.cs ↔ kernels/greedy_coreset.cu ↔ CudaBackend.GreedyCoreset.cs; Conv2d ↔ conv2d.cu),
/// so an op's four versions are found by one name. Helpers several modules share sit in common.cuh, which
/// <see cref="Load"/> prepends to each.
/// </summary>
public static class KernelSource
{
    public const string PreludeName = "common.cuh";

    /// <summary>kernels/ beside the binaries (the csproj copies them there).</summary>
    public static string DefaultFolder => Path.Combine(AppContext.BaseDirectory, "kernels");

    /// <summary>The text NVRTC compiles: the shared prelude followed by the module's own source.</summary>
    public static string Load(string folder, string module)
    {
        string prelude = Path.Combine(folder, PreludeName), file = Path.Combine(folder, module + ".cu");
        if (!File.Exists(file)) throw new FileNotFoundException($"{file}: CUDA kernel source missing (kernels/ should sit beside the binaries)");
        if (!File.Exists(prelude)) throw new FileNotFoundException($"{prelude}: CUDA kernel prelude missing");
        return "// ---- " + PreludeName + "\n" + File.ReadAllText(prelude) + "\n// ---- " + module + ".cu\n" + File.ReadAllText(file);
    }

    /// <summary>Hex SHA-256 over everything that changes the binary: source text, architecture, NVRTC version, options.</summary>
    public static string CacheKey(string source, string arch, string nvrtcVersion, IReadOnlyList<string> options)
    {
        var sb = new StringBuilder();
        sb.Append(source).Append('\0').Append(arch).Append('\0').Append(nvrtcVersion);
        foreach (var o in options) sb.Append('\0').Append(o);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    /// <summary>$PCNATIVE_CUDA_CACHE, else $XDG_CACHE_HOME/pcnative/cuda, else ~/.cache/pcnative/cuda.</summary>
    public static string CacheFolder(Func<string, string?> env, string? home)
    {
        if (env("PCNATIVE_CUDA_CACHE") is { Length: > 0 } c) return c;
        if (env("XDG_CACHE_HOME") is { Length: > 0 } x) return Path.Combine(x, "pcnative", "cuda");
        return Path.Combine(string.IsNullOrEmpty(home) ? Path.GetTempPath() : home, ".cache", "pcnative", "cuda");
    }

    public static string DefaultCacheFolder =>
        CacheFolder(Environment.GetEnvironmentVariable, Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));

    public static byte[]? TryRead(string folder, string key)
    {
        try
        {
            var p = Path.Combine(folder, key + ".cubin");
            return File.Exists(p) ? File.ReadAllBytes(p) : null;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>Writes key.cubin via a unique temp file and a rename; a read-only cache is not an error (returns false).</summary>
    public static bool TryWrite(string folder, string key, byte[] cubin)
    {
        string tmp = Path.Combine(folder, $"{key}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(folder);
            File.WriteAllBytes(tmp, cubin);
            File.Move(tmp, Path.Combine(folder, key + ".cubin"), overwrite: true);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(tmp); } catch (Exception) { }
            return false;
        }
    }

    /// <summary>NVRTC options. No --use_fast_math anywhere: every kernel here is memory-bound, and the distance,
    /// coreset and blur kernels must match the reference to 1e-4.</summary>
    public static IReadOnlyList<string> Options(int ccMajor, int ccMinor) =>
        [$"--gpu-architecture=sm_{ccMajor}{ccMinor}", "--std=c++17"];
}
