// libnvrtc.so.12 of the CUDA emulator (tests/CudaEmulator/README.md): "compiles" a kernels/*.cu module by
// building it with the host C++ compiler ($PC_EMU_CXX, else g++) into a shared library, with pc_emu_runtime.h
// (found beside this library) included first and PC_HOST_EMULATION defined. The library's bytes are the
// "cubin" that the emulated driver's cuModuleLoadData loads. Each extern "C" __global__ kernel gets an entry
// pc_emu_entry_<name>(void** params) that unpacks cuLaunchKernel's parameter array by the kernel's own types.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#define API extern "C" __attribute__((visibility("default")))

namespace
{
enum : int
{
    NVRTC_SUCCESS = 0, NVRTC_ERROR_OUT_OF_MEMORY = 1, NVRTC_ERROR_PROGRAM_CREATION_FAILURE = 2,
    NVRTC_ERROR_INVALID_INPUT = 3, NVRTC_ERROR_INVALID_PROGRAM = 4, NVRTC_ERROR_INVALID_OPTION = 5,
    NVRTC_ERROR_COMPILATION = 6,
};

struct Program
{
    std::string source, name, log;
    std::vector<char> image;
    bool compiled = false;
};

std::string own_folder()
{
    Dl_info info;
    if (!dladdr((void*)&own_folder, &info) || !info.dli_fname) return ".";
    std::string p = info.dli_fname;
    auto slash = p.rfind('/');
    return slash == std::string::npos ? "." : p.substr(0, slash);
}

bool read_file(const std::string& path, std::string& out)
{
    std::ifstream f(path, std::ios::binary);
    if (!f) return false;
    std::ostringstream s;
    s << f.rdbuf();
    out = s.str();
    return true;
}

std::string quote(const std::string& s)
{
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}
} // namespace

API int nvrtcVersion(int* major, int* minor)
{
    if (!major || !minor) return NVRTC_ERROR_INVALID_INPUT;
    *major = 12;
    *minor = 4;
    return NVRTC_SUCCESS;
}

API const char* nvrtcGetErrorString(int code)
{
    switch (code)
    {
        case 0: return "NVRTC_SUCCESS";
        case 1: return "NVRTC_ERROR_OUT_OF_MEMORY";
        case 2: return "NVRTC_ERROR_PROGRAM_CREATION_FAILURE";
        case 3: return "NVRTC_ERROR_INVALID_INPUT";
        case 4: return "NVRTC_ERROR_INVALID_PROGRAM";
        case 5: return "NVRTC_ERROR_INVALID_OPTION";
        case 6: return "NVRTC_ERROR_COMPILATION";
        default: return "NVRTC_ERROR unknown";
    }
}

API int nvrtcCreateProgram(Program** prog, const char* src, const char* name, int numHeaders, const char* const*, const char* const*)
{
    if (!prog || !src) return NVRTC_ERROR_INVALID_INPUT;
    if (numHeaders != 0) return NVRTC_ERROR_INVALID_INPUT; // not emulated (kernels/ passes none)
    *prog = new Program{src, name ? name : "default_program", "", {}, false};
    return NVRTC_SUCCESS;
}

API int nvrtcDestroyProgram(Program** prog)
{
    if (!prog || !*prog) return NVRTC_ERROR_INVALID_PROGRAM;
    delete *prog;
    *prog = nullptr;
    return NVRTC_SUCCESS;
}

API int nvrtcCompileProgram(Program* prog, int numOptions, const char* const* options)
{
    if (!prog) return NVRTC_ERROR_INVALID_PROGRAM;
    prog->log.clear();
    bool arch = false;
    for (int i = 0; i < numOptions; i++)
    {
        std::string o = options[i] ? options[i] : "";
        if (o.rfind("--gpu-architecture=sm_", 0) == 0 || o.rfind("-arch=sm_", 0) == 0) arch = true;
        else if (o == "--std=c++17" || o == "-std=c++17" || o == "--use_fast_math" || o.rfind("--fmad=", 0) == 0 || o == "-lineinfo") {}
        else
        {
            prog->log = "nvrtc (emulated): option not recognised: " + o;
            return NVRTC_ERROR_INVALID_OPTION;
        }
    }
    if (!arch)
    {
        prog->log = "nvrtc (emulated): no --gpu-architecture=sm_XY (a cubin needs a real architecture)";
        return NVRTC_ERROR_INVALID_OPTION;
    }
    // Dynamic shared memory becomes the emulator's per-launch buffer; kernels get their entries.
    std::string src = std::regex_replace(prog->source, std::regex(R"(extern\s+__shared__\s+(\w+)\s+(\w+)\s*\[\s*\]\s*;)"),
                                         "$1* $2 = reinterpret_cast<$1*>(pc_emu::dynamic_shared());");
    std::string entries = "\n// ---- emulator entries\n";
    std::regex kernel(R"(extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\()");
    for (auto it = std::sregex_iterator(prog->source.begin(), prog->source.end(), kernel); it != std::sregex_iterator(); ++it)
    {
        std::string n = (*it)[1];
        entries += "PC_EMU_EXPORT void pc_emu_entry_" + n + "(void** p) { pc_emu::invoke(" + n + ", p); }\n";
    }
    char dir[] = "/tmp/pc-emu-nvrtc-XXXXXX";
    if (!mkdtemp(dir)) { prog->log = "nvrtc (emulated): cannot make a temporary folder"; return NVRTC_ERROR_OUT_OF_MEMORY; }
    std::string d = dir, cpp = d + "/module.cpp", so = d + "/module.so", log = d + "/log.txt";
    {
        std::ofstream f(cpp, std::ios::binary);
        f << src << entries;
    }
    const char* cxx = std::getenv("PC_EMU_CXX");
    std::string cmd = std::string(cxx && *cxx ? cxx : "g++") +
                      " -std=c++17 -O2 -fPIC -shared -fvisibility=hidden -fno-strict-aliasing -Wno-unused-variable -DPC_HOST_EMULATION -include " +
                      quote(own_folder() + "/pc_emu_runtime.h") + " -x c++ " + quote(cpp) + " -o " + quote(so) + " >" + quote(log) + " 2>&1";
    int rc = std::system(cmd.c_str());
    std::string output;
    read_file(log, output);
    std::string image;
    bool ok = rc == 0 && read_file(so, image);
    unlink(cpp.c_str());
    unlink(so.c_str());
    unlink(log.c_str());
    rmdir(dir);
    if (!ok)
    {
        prog->log = prog->name + " (emulated by the host compiler): " + (output.empty() ? "compiler failed: " + cmd : output);
        return NVRTC_ERROR_COMPILATION;
    }
    prog->log = output;
    prog->image.assign(image.begin(), image.end());
    prog->compiled = true;
    return NVRTC_SUCCESS;
}

API int nvrtcGetProgramLogSize(Program* prog, size_t* size)
{
    if (!prog || !size) return NVRTC_ERROR_INVALID_INPUT;
    *size = prog->log.size() + 1;
    return NVRTC_SUCCESS;
}

API int nvrtcGetProgramLog(Program* prog, char* log)
{
    if (!prog || !log) return NVRTC_ERROR_INVALID_INPUT;
    std::memcpy(log, prog->log.c_str(), prog->log.size() + 1);
    return NVRTC_SUCCESS;
}

API int nvrtcGetCUBINSize(Program* prog, size_t* size)
{
    if (!prog || !size) return NVRTC_ERROR_INVALID_INPUT;
    if (!prog->compiled) return NVRTC_ERROR_INVALID_PROGRAM;
    *size = prog->image.size();
    return NVRTC_SUCCESS;
}

API int nvrtcGetCUBIN(Program* prog, char* out)
{
    if (!prog || !out) return NVRTC_ERROR_INVALID_INPUT;
    if (!prog->compiled) return NVRTC_ERROR_INVALID_PROGRAM;
    std::memcpy(out, prog->image.data(), prog->image.size());
    return NVRTC_SUCCESS;
}
