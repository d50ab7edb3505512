using System.Runtime.InteropServices;
using System.Text;

namespace PatchCore.Cuda.Native;

/// <summary>NVRTC (libnvrtc.so.13 / .12): compiles kernels/*.cu at run time for the device's architecture.</summary>
public sealed unsafe class Nvrtc
{
    public readonly string Path;
    readonly nint _lib;

    public readonly delegate* unmanaged<int*, int*, int> nvrtcVersion;
    // nvrtcCreateProgram(prog*, src, name, numHeaders, headers, includeNames)
    public readonly delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int> nvrtcCreateProgram;
    public readonly delegate* unmanaged<nint*, int> nvrtcDestroyProgram;
    public readonly delegate* unmanaged<nint, int, byte**, int> nvrtcCompileProgram;
    public readonly delegate* unmanaged<nint, nuint*, int> nvrtcGetProgramLogSize;
    public readonly delegate* unmanaged<nint, byte*, int> nvrtcGetProgramLog;
    public readonly delegate* unmanaged<nint, nuint*, int> nvrtcGetCUBINSize;
    public readonly delegate* unmanaged<nint, byte*, int> nvrtcGetCUBIN;
    public readonly delegate* unmanaged<int, byte*> nvrtcGetErrorString;

    Nvrtc(nint lib, string path)
    {
        _lib = lib;
        Path = path;
        nvrtcVersion = (delegate* unmanaged<int*, int*, int>)Get("nvrtcVersion");
        nvrtcCreateProgram = (delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int>)Get("nvrtcCreateProgram");
        nvrtcDestroyProgram = (delegate* unmanaged<nint*, int>)Get("nvrtcDestroyProgram");
        nvrtcCompileProgram = (delegate* unmanaged<nint, int, byte**, int>)Get("nvrtcCompileProgram");
        nvrtcGetProgramLogSize = (delegate* unmanaged<nint, nuint*, int>)Get("nvrtcGetProgramLogSize");
        nvrtcGetProgramLog = (delegate* unmanaged<nint, byte*, int>)Get("nvrtcGetProgramLog");
        nvrtcGetCUBINSize = (delegate* unmanaged<nint, nuint*, int>)Get("nvrtcGetCUBINSize");
        nvrtcGetCUBIN = (delegate* unmanaged<nint, byte*, int>)Get("nvrtcGetCUBIN");
        nvrtcGetErrorString = (delegate* unmanaged<int, byte*>)Get("nvrtcGetErrorString");
    }

    nint Get(string name) =>
        NativeLibrary.TryGetExport(_lib, name, out var p) ? p : throw new CudaException($"{Path} lacks the export {name}");

    public static Nvrtc? TryLoad(IReadOnlyList<string> folders, out string reason, IReadOnlyList<int>? majors = null, bool bareNames = true)
    {
        if (LibraryProbe.Load("libnvrtc", folders, ["libnvrtc-builtins"], out var h, out var from, majors, bareNames))
        {
            try { reason = ""; return new Nvrtc(h, from); }
            catch (CudaException e) { reason = e.Message; return null; }
        }
        reason = "libnvrtc.so.13/.12 not found (default path, /usr/local/cuda*/lib64, site-packages/nvidia/*/lib)";
        return null;
    }

    public void Check(int result, string call)
    {
        if (result != 0) throw new CudaException(CudaException.Format(call, result, ErrorName(result), null));
    }

    /// <summary>NVRTC's error string is the enum name, e.g. NVRTC_ERROR_COMPILATION.</summary>
    public string? ErrorName(int code)
    {
        var s = nvrtcGetErrorString(code);
        return s == null ? null : Marshal.PtrToStringUTF8((nint)s);
    }

    public (int Major, int Minor) Version()
    {
        int a, b;
        Check(nvrtcVersion(&a, &b), "nvrtcVersion");
        return (a, b);
    }

    /// <summary>Compiles one source to a cubin for the given real architecture; a compile error's log is in the message (folded to one line).</summary>
    public byte[] CompileToCubin(string source, string name, IReadOnlyList<string> options)
    {
        nint prog = 0;
        byte[] src = Encoding.UTF8.GetBytes(source + "\0");
        byte[] nm = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* ps = src, pn = nm)
            Check(nvrtcCreateProgram(&prog, ps, pn, 0, null, null), "nvrtcCreateProgram");
        try
        {
            var optBytes = options.Select(o => Encoding.UTF8.GetBytes(o + "\0")).ToArray();
            var handles = optBytes.Select(b => GCHandle.Alloc(b, GCHandleType.Pinned)).ToArray();
            try
            {
                var ptrs = stackalloc byte*[optBytes.Length];
                for (int i = 0; i < optBytes.Length; i++) ptrs[i] = (byte*)handles[i].AddrOfPinnedObject();
                int r = nvrtcCompileProgram(prog, optBytes.Length, ptrs);
                if (r != 0)
                {
                    string log = Log(prog);
                    throw new CudaException(CudaException.Format($"nvrtcCompileProgram({name})", r, ErrorName(r), log));
                }
            }
            finally { foreach (var h in handles) h.Free(); }
            nuint size;
            Check(nvrtcGetCUBINSize(prog, &size), "nvrtcGetCUBINSize");
            var cubin = new byte[(int)size];
            fixed (byte* pc = cubin) Check(nvrtcGetCUBIN(prog, pc), "nvrtcGetCUBIN");
            return cubin;
        }
        finally { nvrtcDestroyProgram(&prog); }
    }

    string Log(nint prog)
    {
        nuint size;
        if (nvrtcGetProgramLogSize(prog, &size) != 0 || size <= 1) return "";
        var buf = new byte[(int)size];
        fixed (byte* p = buf) if (nvrtcGetProgramLog(prog, p) != 0) return "";
        return Encoding.UTF8.GetString(buf, 0, (int)size - 1);
    }
}
