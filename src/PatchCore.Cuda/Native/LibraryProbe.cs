using System.Runtime.InteropServices;

namespace PatchCore.Cuda.Native;

/// <summary>
/// Finds libcuda, libnvrtc and libcublas without a CUDA toolkit on the build machine: the driver comes from the
/// default search path, NVRTC and cuBLAS may live in /usr/local/cuda*/lib64, the distribution's lib folder or a
/// Python environment's site-packages/nvidia/*/lib (the pip wheels PyTorch installs). Pure functions build the
/// candidate list (tested here); <see cref="Load"/> walks it.
/// </summary>
public static class LibraryProbe
{
    /// <summary>Major versions tried, newest first; 0 stands for the unversioned name.</summary>
    public static readonly int[] Majors = [13, 12, 0];

    /// <summary>
    /// The majors of <see cref="Majors"/> that the installed driver can run (cuDriverGetVersion, e.g. 12040 for
    /// 12.4). A library newer than the driver loads fine but fails later (cuBLAS 13 at cublasCreate, NVRTC 13's
    /// cubins at cuModuleLoadData), so on a machine with both a .so.13 and a .so.12 and a CUDA 12 driver the
    /// .so.12 must win. Unknown version (≤ 0): all of them.
    /// </summary>
    public static IReadOnlyList<int> MajorsFor(int driverVersion) =>
        driverVersion <= 0 ? Majors : Majors.Where(m => m == 0 || m <= driverVersion / 1000).ToArray();

    /// <summary>Folder patterns ('*' matches one path segment) searched after the loader's default path.</summary>
    public static IReadOnlyList<string> DirectoryPatterns(string? home, Func<string, string?> env)
    {
        var list = new List<string>();
        foreach (var v in new[] { "CUDA_PATH", "CUDA_HOME", "CUDA_ROOT" })
            if (env(v) is { Length: > 0 } root)
            {
                list.Add(Path.Combine(root, "lib64"));
                list.Add(Path.Combine(root, "targets", "x86_64-linux", "lib"));
            }
        list.Add("/usr/local/cuda/lib64");
        list.Add("/usr/local/cuda/targets/x86_64-linux/lib");
        list.Add("/usr/local/cuda-*/lib64");
        list.Add("/usr/local/cuda-*/targets/x86_64-linux/lib");
        list.Add("/usr/lib/x86_64-linux-gnu");
        list.Add("/usr/lib64");
        // Python environments: the CUDA wheels put each library in site-packages/nvidia/<part>/lib
        // (CUDA 13 wheels: nvidia/cu13/lib). Virtual and conda environments first: they are what the user chose.
        var sites = new List<string>();
        if (env("VIRTUAL_ENV") is { Length: > 0 } venv) sites.Add(Path.Combine(venv, "lib", "python3*", "site-packages"));
        if (env("CONDA_PREFIX") is { Length: > 0 } conda) sites.Add(Path.Combine(conda, "lib", "python3*", "site-packages"));
        sites.Add("/usr/local/lib/python3*/dist-packages");
        sites.Add("/usr/local/lib/python3*/site-packages");
        sites.Add("/usr/lib/python3/dist-packages");
        sites.Add("/usr/lib/python3*/site-packages");
        sites.Add("/opt/conda/lib/python3*/site-packages");
        if (!string.IsNullOrEmpty(home)) sites.Add(Path.Combine(home, ".local", "lib", "python3*", "site-packages"));
        foreach (var s in sites) list.Add(Path.Combine(s, "nvidia", "*", "lib"));
        return list;
    }

    /// <summary>Expands '*' (one segment, any name) in a folder pattern against the file system; sorted, existing folders only.</summary>
    public static IReadOnlyList<string> ExpandPattern(string pattern)
    {
        var parts = pattern.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var current = new List<string> { pattern.StartsWith('/') ? "/" : "." };
        foreach (var part in parts)
        {
            var next = new List<string>();
            foreach (var dir in current)
            {
                if (part.Contains('*'))
                {
                    try
                    {
                        var found = Directory.GetDirectories(dir, part);
                        Array.Sort(found, StringComparer.Ordinal);
                        // Newest first when names carry versions (cuda-13.0 before cuda-12.4, python3.12 before 3.10).
                        Array.Reverse(found);
                        next.AddRange(found);
                    }
                    catch (IOException) { }
                    catch (UnauthorizedAccessException) { }
                }
                else
                {
                    var p = Path.Combine(dir, part);
                    if (Directory.Exists(p)) next.Add(p);
                }
            }
            current = next;
        }
        return current;
    }

    /// <summary>File names tried for a library, newest major first: libnvrtc.so.13, libnvrtc.so.12, libnvrtc.so.</summary>
    public static IReadOnlyList<string> FileNames(string stem, IReadOnlyList<int> majors) =>
        majors.Select(m => m == 0 ? $"{stem}.so" : $"{stem}.so.{m}").ToArray();

    /// <summary>
    /// The ordered candidates: for each version (newest first), the bare name (the loader's default search path,
    /// ld.so.cache and LD_LIBRARY_PATH) and then that name in each folder.
    /// </summary>
    public static IReadOnlyList<string> Candidates(string stem, IReadOnlyList<int> majors, IReadOnlyList<string> folders)
    {
        var list = new List<string>();
        foreach (var name in FileNames(stem, majors))
        {
            list.Add(name);
            foreach (var f in folders) list.Add(Path.Combine(f, name));
        }
        return list;
    }

    /// <summary>The folders of <see cref="DirectoryPatterns"/> that exist on this machine, in order, without repeats.</summary>
    public static IReadOnlyList<string> ExistingFolders()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var list = new List<string>();
        foreach (var p in DirectoryPatterns(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), Environment.GetEnvironmentVariable))
            foreach (var d in ExpandPattern(p))
                if (seen.Add(d)) list.Add(d);
        return list;
    }

    /// <summary>
    /// Loads the first candidate that the loader accepts. `companions` are libraries that the found one needs and
    /// that sit beside it (libcublasLt for libcublas, libnvrtc-builtins for libnvrtc): loading them first from the
    /// same folder lets the dynamic linker satisfy the dependency by soname even when that folder is not on the
    /// loader's path. Returns the handle and the path (or bare name) it came from. `bareNames` false: only files in
    /// `folders` (the tests' CUDA emulator must not be mistaken for, or lose to, an installed CUDA).
    /// </summary>
    public static bool Load(string stem, IReadOnlyList<string> folders, string[] companions, out nint handle, out string from,
                            IReadOnlyList<int>? majors = null, bool bareNames = true)
    {
        foreach (var candidate in Candidates(stem, majors ?? Majors, folders))
        {
            bool bare = !candidate.Contains('/');
            if (bare && !bareNames) continue;
            if (!bare && !File.Exists(candidate)) continue;
            if (!bare) LoadCompanions(Path.GetDirectoryName(candidate)!, companions);
            if (NativeLibrary.TryLoad(candidate, out handle))
            {
                from = candidate;
                return true;
            }
        }
        handle = 0;
        from = "";
        return false;
    }

    static void LoadCompanions(string folder, string[] companions)
    {
        foreach (var stem in companions)
        {
            string[] files;
            try { files = Directory.GetFiles(folder, stem + ".so*"); } catch (IOException) { continue; }
            Array.Sort(files, StringComparer.Ordinal);
            Array.Reverse(files);
            foreach (var f in files)
                if (NativeLibrary.TryLoad(f, out _)) break;
        }
    }
}
