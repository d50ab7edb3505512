// libcuda.so.1 of the CUDA emulator (tests/CudaEmulator/README.md): the driver API calls that
// src/PatchCore.Cuda/Native/Driver.cs binds, on the host. Device memory is host memory, one mapping per
// allocation with the allocation's end against an inaccessible page (a kernel or copy that runs past the end
// faults at once); copies and memsets are checked against the allocation table; modules are the shared
// libraries that the emulated NVRTC builds; launches run synchronously (pc_emu_launch in each module).
// A failed launch makes the context's error sticky, as on a GPU. A fault inside the emulator's own memory (a
// guard page, or an allocation already freed) or in the null page during a launch or an emulated cuBLAS call is
// caught and turned into a failed launch that names the kernel and the address; any other fault goes to the
// handler that was there before (the .NET runtime's).
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <csetjmp>
#include <csignal>
#include <dlfcn.h>
#include <elf.h>
#include <sys/mman.h>
#include <unistd.h>

#define API extern "C" __attribute__((visibility("default")))

namespace
{
enum : int
{
    CUDA_SUCCESS = 0, CUDA_ERROR_INVALID_VALUE = 1, CUDA_ERROR_OUT_OF_MEMORY = 2, CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_INVALID_DEVICE = 101, CUDA_ERROR_INVALID_IMAGE = 200, CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_INVALID_HANDLE = 400, CUDA_ERROR_NOT_FOUND = 500, CUDA_ERROR_LAUNCH_FAILED = 719,
};

struct Allocation { char* map; size_t mapBytes; size_t bytes; };
struct Region { uintptr_t begin, end; };
struct Module { void* so; int fd; int (*launch)(void (*)(void**), const unsigned*, const unsigned*, unsigned, void**, char*, int); };
struct Function { Module* module; void (*entry)(void**); std::string name; };
struct Event { double ms; bool recorded; };

std::mutex lock;
bool initialized;
int sticky; // the error of a failed launch: every later call that synchronises returns it
std::map<uint64_t, Allocation> allocations;
size_t allocatedBytes;
constexpr size_t TotalBytes = 16ull << 30;
constexpr size_t Page = 4096;
int contextToken, streamToken;
char lastFailure[600]; // the failed launch's message, returned by cuGetErrorString for the sticky error

// Address ranges whose access means a kernel bug: each allocation's guard page, and freed allocations (kept
// mapped without access instead of unmapped, so a use after free faults here rather than in someone else's
// memory). Fixed-size table, read by the signal handler without locks.
constexpr int MaxRegions = 1 << 16;
Region regions[MaxRegions];
int regionCount;
thread_local sigjmp_buf* activeJump;
thread_local void* faultAddress;
struct sigaction previousSegv, previousBus;

bool in_region(uintptr_t a)
{
    for (int i = 0; i < regionCount; i++)
        if (a >= regions[i].begin && a < regions[i].end) return true;
    return false;
}

void add_region(uintptr_t begin, uintptr_t end)
{
    if (regionCount < MaxRegions) regions[regionCount++] = Region{begin, end};
}

// The lowest 64 KiB: what Linux never maps (vm.mmap_min_addr), so an access there is a null pointer plus an
// offset. A kernel handed a device pointer of 0 (a tensor used after its Dispose set it to 0, or an argument never
// set) faults there; a GPU reports that launch as an illegal address, so the emulator names the kernel too
// instead of leaving a raw SIGSEGV to the .NET runtime.
constexpr uintptr_t NullPageBytes = 64 * 1024;

void on_fault(int sig, siginfo_t* info, void* context)
{
    if (activeJump && ((uintptr_t)info->si_addr < NullPageBytes || in_region((uintptr_t)info->si_addr)))
    {
        faultAddress = info->si_addr;
        siglongjmp(*activeJump, 1);
    }
    const struct sigaction& prev = sig == SIGSEGV ? previousSegv : previousBus;
    if (prev.sa_flags & SA_SIGINFO) prev.sa_sigaction(sig, info, context);
    else if (prev.sa_handler != SIG_IGN && prev.sa_handler != SIG_DFL) prev.sa_handler(sig);
    else
    {
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

// Takes over SIGSEGV and SIGBUS with the flags and mask of the handler that was there (the .NET runtime's, which
// its chained calls then see unchanged); sigsetjmp(.., 1) restores the signal mask when a fault is caught.
void install_fault_handler()
{
    for (int sig : {SIGSEGV, SIGBUS})
    {
        struct sigaction& previous = sig == SIGSEGV ? previousSegv : previousBus;
        sigaction(sig, nullptr, &previous);
        struct sigaction sa = previous;
        sa.sa_sigaction = on_fault;
        sa.sa_flags = (previous.sa_flags | SA_SIGINFO | SA_ONSTACK) & ~SA_RESETHAND;
        sigaction(sig, &sa, nullptr);
    }
}

double now_ms()
{
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

// The allocation that holds [p, p + bytes), or nullptr.
const Allocation* find(uint64_t p, size_t bytes)
{
    auto it = allocations.upper_bound(p);
    if (it == allocations.begin()) return nullptr;
    --it;
    if (p < it->first || p + bytes > it->first + it->second.bytes) return nullptr;
    return &it->second;
}

int complain(int code, const char* call, const char* what)
{
    std::fprintf(stderr, "[cuda emulator] %s: %s\n", call, what);
    return code;
}
} // namespace

// Runs `body` (nonzero result = failure, message in err) with faults in the emulator's regions caught.
template <class F> bool pc_emu_guarded(F body, char* err, size_t errBytes)
{
    sigjmp_buf jump;
    if (sigsetjmp(jump, 1) != 0)
    {
        activeJump = nullptr;
        if ((uintptr_t)faultAddress < NullPageBytes)
            std::snprintf(err, errBytes, "memory access at %p, through a null device pointer (freed or never set)", faultAddress);
        else
            std::snprintf(err, errBytes, "memory access at %p, past the end of an allocation or in freed memory", faultAddress);
        return false;
    }
    activeJump = &jump;
    int r = body();
    activeJump = nullptr;
    return r == 0;
}

// For the emulated cuBLAS: runs fn(arg) with faults caught; 0 when it ran through, else 1 with err filled.
API int pc_emu_guarded_call(void (*fn)(void*), void* arg, char* err, int errBytes)
{
    return pc_emu_guarded([&] { fn(arg); return 0; }, err, (size_t)errBytes) ? 0 : 1;
}

// Tests of the emulator itself provoke failures on purpose; this clears the sticky error after one.
API void pc_emu_reset_sticky_error()
{
    sticky = CUDA_SUCCESS;
    lastFailure[0] = 0;
}

API int cuInit(unsigned flags)
{
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    if (!initialized) install_fault_handler();
    initialized = true;
    return CUDA_SUCCESS;
}
#define NEED_INIT if (!initialized) return CUDA_ERROR_NOT_INITIALIZED

API int cuDriverGetVersion(int* v) { if (!v) return CUDA_ERROR_INVALID_VALUE; *v = 12040; return CUDA_SUCCESS; }
API int cuDeviceGetCount(int* n) { NEED_INIT; if (!n) return CUDA_ERROR_INVALID_VALUE; *n = 1; return CUDA_SUCCESS; }
API int cuDeviceGet(int* d, int ordinal) { NEED_INIT; if (!d) return CUDA_ERROR_INVALID_VALUE; if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE; *d = 0; return CUDA_SUCCESS; }
API int cuDeviceGetName(char* name, int len, int dev)
{
    NEED_INIT;
    if (!name || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    std::snprintf(name, (size_t)len, "%s", "pcnative CUDA emulator (CPU)");
    return CUDA_SUCCESS;
}
API int cuDeviceTotalMem_v2(size_t* bytes, int dev) { NEED_INIT; if (dev != 0) return CUDA_ERROR_INVALID_DEVICE; *bytes = TotalBytes; return CUDA_SUCCESS; }
API int cuDeviceGetAttribute(int* v, int attr, int dev)
{
    NEED_INIT;
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    switch (attr)
    {
        case 16: *v = 2; break;          // MULTIPROCESSOR_COUNT: few blocks per grid-stride launch keep it quick
        case 38: *v = 4 << 20; break;     // L2_CACHE_SIZE
        case 75: *v = 8; break;           // COMPUTE_CAPABILITY_MAJOR
        case 76: *v = 0; break;           // COMPUTE_CAPABILITY_MINOR
        default: return complain(CUDA_ERROR_INVALID_VALUE, "cuDeviceGetAttribute", "attribute not emulated"); // the backend asks only these four
    }
    return CUDA_SUCCESS;
}
API int cuDevicePrimaryCtxRetain(void** ctx, int dev) { NEED_INIT; if (dev != 0) return CUDA_ERROR_INVALID_DEVICE; *ctx = &contextToken; return CUDA_SUCCESS; }
API int cuDevicePrimaryCtxRelease_v2(int dev) { NEED_INIT; return dev == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE; }
API int cuCtxSetCurrent(void* ctx) { NEED_INIT; return ctx == &contextToken || ctx == nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT; }
API int cuCtxSynchronize() { NEED_INIT; return sticky; }

API int cuMemAlloc_v2(uint64_t* p, size_t bytes)
{
    NEED_INIT;
    if (sticky) return sticky;
    if (!p || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> g(lock);
    if (allocatedBytes + bytes > TotalBytes) return CUDA_ERROR_OUT_OF_MEMORY;
    // cuMemAlloc aligns to 256 bytes; here the end sits right at the guard page instead (start aligned to 4), so
    // that reading even one float past the end faults.
    size_t rounded = (bytes + 3) & ~(size_t)3;
    size_t mapBytes = (rounded + Page - 1) / Page * Page + Page;
    void* m = mmap(nullptr, mapBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
    char* map = (char*)m;
    mprotect(map + mapBytes - Page, Page, PROT_NONE);
    add_region((uintptr_t)(map + mapBytes - Page), (uintptr_t)(map + mapBytes));
    char* start = map + mapBytes - Page - rounded;
    std::memset(start, 0xff, rounded); // fresh device memory holds garbage: all-ones bits are NaN as float
    allocations[(uint64_t)start] = Allocation{map, mapBytes, bytes};
    allocatedBytes += bytes;
    *p = (uint64_t)start;
    return CUDA_SUCCESS;
}

API int cuMemFree_v2(uint64_t p)
{
    NEED_INIT;
    std::lock_guard<std::mutex> g(lock);
    auto it = allocations.find(p);
    if (it == allocations.end()) return complain(CUDA_ERROR_INVALID_VALUE, "cuMemFree_v2", "not the start of an allocation");
    // Later use of the pointer faults: the mapping stays, without access, while the table has room.
    if (regionCount < MaxRegions)
    {
        madvise(it->second.map, it->second.mapBytes, MADV_DONTNEED); // give the pages back, keep the addresses
        mprotect(it->second.map, it->second.mapBytes, PROT_NONE);
        add_region((uintptr_t)it->second.map, (uintptr_t)(it->second.map + it->second.mapBytes));
    }
    else munmap(it->second.map, it->second.mapBytes);
    allocatedBytes -= it->second.bytes;
    allocations.erase(it);
    return CUDA_SUCCESS;
}

API int cuMemGetInfo_v2(size_t* free, size_t* total)
{
    NEED_INIT;
    std::lock_guard<std::mutex> g(lock);
    *free = TotalBytes - allocatedBytes;
    *total = TotalBytes;
    return CUDA_SUCCESS;
}

API int cuMemcpyHtoD_v2(uint64_t dst, const void* src, size_t bytes)
{
    NEED_INIT;
    if (sticky) return sticky;
    std::lock_guard<std::mutex> g(lock);
    if (!src || !find(dst, bytes)) return complain(CUDA_ERROR_INVALID_VALUE, "cuMemcpyHtoD_v2", "destination range outside every allocation");
    std::memcpy((void*)dst, src, bytes);
    return CUDA_SUCCESS;
}

API int cuMemcpyDtoH_v2(void* dst, uint64_t src, size_t bytes)
{
    NEED_INIT;
    if (sticky) return sticky;
    std::lock_guard<std::mutex> g(lock);
    if (!dst || !find(src, bytes)) return complain(CUDA_ERROR_INVALID_VALUE, "cuMemcpyDtoH_v2", "source range outside every allocation");
    std::memcpy(dst, (const void*)src, bytes);
    return CUDA_SUCCESS;
}

API int cuMemcpyDtoD_v2(uint64_t dst, uint64_t src, size_t bytes)
{
    NEED_INIT;
    if (sticky) return sticky;
    std::lock_guard<std::mutex> g(lock);
    if (!find(dst, bytes) || !find(src, bytes)) return complain(CUDA_ERROR_INVALID_VALUE, "cuMemcpyDtoD_v2", "range outside every allocation");
    std::memmove((void*)dst, (const void*)src, bytes);
    return CUDA_SUCCESS;
}

API int cuMemsetD32_v2(uint64_t dst, unsigned value, size_t count)
{
    NEED_INIT;
    if (sticky) return sticky;
    std::lock_guard<std::mutex> g(lock);
    if ((dst & 3) || !find(dst, count * 4)) return complain(CUDA_ERROR_INVALID_VALUE, "cuMemsetD32_v2", "range outside every allocation or misaligned");
    auto* p = (unsigned*)dst;
    for (size_t i = 0; i < count; i++) p[i] = value;
    return CUDA_SUCCESS;
}

// The image is the ELF shared library that the emulated NVRTC returned as its "cubin". It is loaded from a
// memory file, so a cached image works without the file it was built in.
API int cuModuleLoadData(void** module, const void* image)
{
    NEED_INIT;
    if (!module || !image) return CUDA_ERROR_INVALID_VALUE;
    auto* eh = (const Elf64_Ehdr*)image;
    if (std::memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_type != ET_DYN)
        return CUDA_ERROR_INVALID_IMAGE;
    size_t bytes = (size_t)eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize; // section headers come last
    int fd = memfd_create("pc_emu_module", 0);
    if (fd < 0) return CUDA_ERROR_OUT_OF_MEMORY;
    bool written = write(fd, image, bytes) == (ssize_t)bytes;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    // The fd stays open while the module is loaded: the dynamic loader knows objects by path, and a reused fd
    // number would hand back the previous module.
    void* so = written ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : nullptr;
    if (!so)
    {
        close(fd);
        return complain(CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData", written ? dlerror() : "cannot write the image");
    }
    auto launch = (decltype(Module::launch))dlsym(so, "pc_emu_launch");
    if (!launch) { dlclose(so); close(fd); return CUDA_ERROR_INVALID_IMAGE; }
    *module = new Module{so, fd, launch};
    return CUDA_SUCCESS;
}

API int cuModuleUnload(void* module)
{
    NEED_INIT;
    if (!module) return CUDA_ERROR_INVALID_HANDLE;
    auto* m = (Module*)module;
    dlclose(m->so);
    close(m->fd);
    delete m;
    return CUDA_SUCCESS;
}

API int cuModuleGetFunction(void** f, void* module, const char* name)
{
    NEED_INIT;
    if (!f || !module || !name) return CUDA_ERROR_INVALID_VALUE;
    auto* m = (Module*)module;
    std::string symbol = std::string("pc_emu_entry_") + name;
    auto entry = (void (*)(void**))dlsym(m->so, symbol.c_str());
    if (!entry) return CUDA_ERROR_NOT_FOUND;
    *f = new Function{m, entry, name};
    return CUDA_SUCCESS;
}

API int cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                       unsigned sharedBytes, void* stream, void** params, void** extra)
{
    NEED_INIT;
    if (sticky) return sticky;
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    auto* fn = (Function*)f;
    if (extra) return complain(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernel", "'extra' parameters are not emulated");
    if (!gx || !gy || !gz || !bx || !by || !bz || gy > 65535 || gz > 65535 || bz > 64 || (uint64_t)bx * by * bz > 1024)
        return complain(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernel", "grid or block dimensions out of range");
    if (sharedBytes > (48u << 10)) return complain(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernel", "more than 48 KiB of dynamic shared memory");
    (void)stream;
    unsigned grid[3] = {gx, gy, gz}, block[3] = {bx, by, bz};
    char err[512] = "";
    if (!pc_emu_guarded([&] { return fn->module->launch(fn->entry, grid, block, sharedBytes, params, err, (int)sizeof err); }, err, sizeof err))
    {
        std::fprintf(stderr, "[cuda emulator] kernel %s failed: %s\n", fn->name.c_str(), err);
        std::snprintf(lastFailure, sizeof lastFailure, "emulator: kernel %s failed: %s", fn->name.c_str(), err);
        sticky = CUDA_ERROR_LAUNCH_FAILED;
        return CUDA_SUCCESS; // as on a GPU, the launch itself is accepted; the error shows at the next synchronising call
    }
    return CUDA_SUCCESS;
}

API int cuStreamCreate(void** s, unsigned flags) { NEED_INIT; if (!s || flags > 1) return CUDA_ERROR_INVALID_VALUE; *s = &streamToken; return CUDA_SUCCESS; }
API int cuStreamDestroy_v2(void* s) { NEED_INIT; return s == &streamToken ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE; }
API int cuStreamSynchronize(void* s) { NEED_INIT; if (s && s != &streamToken) return CUDA_ERROR_INVALID_HANDLE; return sticky; }
API int cuEventCreate(void** e, unsigned flags) { NEED_INIT; if (!e) return CUDA_ERROR_INVALID_VALUE; (void)flags; *e = new Event{0, false}; return CUDA_SUCCESS; }
API int cuEventDestroy_v2(void* e) { NEED_INIT; if (!e) return CUDA_ERROR_INVALID_HANDLE; delete (Event*)e; return CUDA_SUCCESS; }
API int cuEventRecord(void* e, void* s)
{
    NEED_INIT;
    if (!e) return CUDA_ERROR_INVALID_HANDLE;
    if (s && s != &streamToken) return CUDA_ERROR_INVALID_HANDLE;
    *(Event*)e = Event{now_ms(), true};
    return sticky;
}
API int cuEventSynchronize(void* e) { NEED_INIT; if (!e) return CUDA_ERROR_INVALID_HANDLE; return sticky; }
API int cuEventElapsedTime(float* ms, void* a, void* b)
{
    NEED_INIT;
    if (!ms || !a || !b) return CUDA_ERROR_INVALID_HANDLE;
    auto *ea = (Event*)a, *eb = (Event*)b;
    if (!ea->recorded || !eb->recorded) return CUDA_ERROR_INVALID_HANDLE;
    *ms = (float)(eb->ms - ea->ms);
    return sticky;
}

API int cuGetErrorName(int code, const char** s)
{
    switch (code)
    {
        case 0: *s = "CUDA_SUCCESS"; break;
        case 1: *s = "CUDA_ERROR_INVALID_VALUE"; break;
        case 2: *s = "CUDA_ERROR_OUT_OF_MEMORY"; break;
        case 3: *s = "CUDA_ERROR_NOT_INITIALIZED"; break;
        case 101: *s = "CUDA_ERROR_INVALID_DEVICE"; break;
        case 200: *s = "CUDA_ERROR_INVALID_IMAGE"; break;
        case 201: *s = "CUDA_ERROR_INVALID_CONTEXT"; break;
        case 400: *s = "CUDA_ERROR_INVALID_HANDLE"; break;
        case 500: *s = "CUDA_ERROR_NOT_FOUND"; break;
        case 719: *s = "CUDA_ERROR_LAUNCH_FAILED"; break;
        default: *s = nullptr; return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}
API int cuGetErrorString(int code, const char** s)
{
    switch (code)
    {
        case 719: *s = lastFailure[0] ? lastFailure : "unspecified launch failure"; return CUDA_SUCCESS;
        default: return cuGetErrorName(code, s);
    }
}
