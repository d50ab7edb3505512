// The device side of the CUDA emulator (tests/CudaEmulator/README.md): included before kernels/common.cuh and a
// kernels/*.cu module when the emulated NVRTC compiles that module into a host shared library.
//
// A launch runs its blocks one after another. Inside a block every CUDA thread is a fiber on the one calling
// thread (a stack of its own and a 10-instruction switch; glibc's swapcontext makes a system call per switch and
// was 5 us a switch here); a fiber runs until it waits at __syncthreads or at a warp shuffle, and the scheduler releases a
// barrier when every live thread of the block (or of the warp) has reached it. Because fibers never run at the
// same time, atomics are plain read-modify-writes and __shared__ variables are function statics. What the
// scheduler reports as a launch failure, each a real CUDA bug:
//   - a __syncthreads that some threads of the block reach after others have exited;
//   - a deadlock (threads waiting at different barriers, e.g. a shuffle inside a branch that splits a warp);
//   - a shuffle that reads a lane that has exited or lies outside the block.
// Between barriers the fibers run in a fresh pseudo-random order each round (seeded per launch, so a failure
// repeats), so a missing __syncthreads or __syncwarp between one thread's write and another's read gives wrong
// results instead of happening to work in thread order.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>
#include <sys/mman.h>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
// Every __shared__ variable goes to one section, which each block starts by poisoning (all-ones bits: NaN as
// float), as real shared memory starts with whatever was there: a read before the block's own write shows.
#define __shared__ static __attribute__((section("pc_emu_shared")))
#define __restrict__ __restrict
#define PC_EMU_EXPORT extern "C" __attribute__((visibility("default")))

struct uint3 { unsigned x, y, z; };
struct dim3 { unsigned x, y, z; };

static uint3 threadIdx, blockIdx;
static dim3 blockDim, gridDim;
static constexpr int warpSize = 32;

namespace pc_emu
{
enum State { Runnable, Waiting, Done };
constexpr int BlockBarrier = -1;
constexpr size_t StackBytes = 128 * 1024;

struct Fiber
{
    void* sp; // saved stack pointer while not running
    State state;
    int waitOn; // BlockBarrier or a warp index
};

static std::vector<Fiber> fibers;
static char* stacks;        // mmap'd, touched only as deep as the kernels go
static size_t stackThreads;
static void* schedulerSp;
static int current, threads, exited, blockWaiting;
static std::vector<int> warpWaiting, warpExited, warpSize_;
static std::vector<uint64_t> slots; // one 8-byte slot per thread for shuffles
static void (*entry)(void**);
static void** params;
static std::vector<unsigned char> dynamicShared;
static std::string failure;
static bool aborting;

inline void* dynamic_shared() { return dynamicShared.data(); }

inline void fail(const std::string& what)
{
    if (failure.empty()) failure = what;
    aborting = true;
}

inline void set_indices(int linear)
{
    threadIdx.x = linear % blockDim.x;
    threadIdx.y = (linear / blockDim.x) % blockDim.y;
    threadIdx.z = linear / (blockDim.x * blockDim.y);
}

// pc_emu_switch(&save, next): pushes the callee-saved registers and the SSE/x87 control words, stores the stack
// pointer in *save, loads `next` and pops the same from there (x86-64 System V).
extern "C" __attribute__((visibility("hidden"))) void pc_emu_switch(void** save, void* next);
asm(R"(
    .pushsection .text
    .p2align 4
    .globl pc_emu_switch
    .hidden pc_emu_switch
    .type pc_emu_switch, @function
pc_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size pc_emu_switch, .-pc_emu_switch
    .popsection
)");

// Parks the current fiber at a barrier until the scheduler releases it.
inline void wait(int on)
{
    Fiber& f = fibers[current];
    f.state = Waiting;
    f.waitOn = on;
    if (on == BlockBarrier) blockWaiting++;
    else warpWaiting[on]++;
    pc_emu_switch(&f.sp, schedulerSp);
}

// A fiber's first instruction: runs the kernel for thread `current`, then hands back for good.
inline void fiber_main()
{
    int i = current;
    entry(params);
    fibers[i].state = Done;
    exited++;
    warpExited[i >> 5]++;
    void* unused;
    pc_emu_switch(&unused, schedulerSp);
    __builtin_trap(); // never resumed
}

// A fresh stack that pc_emu_switch "returns" into fiber_main from: control words, six zero registers, the return
// address, and an 8-byte pad so that fiber_main starts with the stack aligned as after a call.
inline void* fresh_stack(char* base, size_t bytes)
{
    auto top = (uintptr_t)(base + bytes) & ~(uintptr_t)15;
    auto* w = (uint64_t*)top;
    *--w = 0;                              // pad: fiber_main's own (never used) return address
    *--w = (uint64_t)(uintptr_t)&fiber_main;
    for (int r = 0; r < 6; r++) *--w = 0;  // rbp rbx r12 r13 r14 r15
    *--w = 0x1F80ull | (0x037Full << 32); // MXCSR default, x87 control word default
    return w;
}

inline std::string where(int linear)
{
    char b[96];
    std::snprintf(b, sizeof b, "block (%u,%u,%u) thread %d", blockIdx.x, blockIdx.y, blockIdx.z, linear);
    return b;
}

// The linker makes __start_/__stop_ symbols for the section; the anchor makes sure it exists in every module.
__attribute__((used)) __shared__ char pc_emu_shared_anchor;
extern "C" char __start_pc_emu_shared[], __stop_pc_emu_shared[];
static uint64_t orderState;
static std::vector<int> order;

// Runs one block to completion; false (with `failure` set) when the block cannot finish.
inline bool run_block()
{
    std::memset(__start_pc_emu_shared, 0xff, (size_t)(__stop_pc_emu_shared - __start_pc_emu_shared));
    std::memset(dynamicShared.data(), 0xff, dynamicShared.size());
    for (int i = 0; i < threads; i++)
    {
        Fiber& f = fibers[i];
        f.sp = fresh_stack(stacks + (size_t)i * StackBytes, StackBytes);
        f.state = Runnable;
        f.waitOn = 0;
    }
    exited = 0;
    blockWaiting = 0;
    std::fill(warpWaiting.begin(), warpWaiting.end(), 0);
    std::fill(warpExited.begin(), warpExited.end(), 0);
    while (exited < threads)
    {
        bool ran = false;
        for (int k = threads - 1; k > 0; k--) // Fisher-Yates with xorshift64
        {
            orderState ^= orderState << 13;
            orderState ^= orderState >> 7;
            orderState ^= orderState << 17;
            std::swap(order[k], order[(int)(orderState % (uint64_t)(k + 1))]);
        }
        for (int k = 0; k < threads && !aborting; k++)
            if (int i = order[k]; fibers[i].state == Runnable)
            {
                current = i;
                set_indices(i);
                pc_emu_switch(&schedulerSp, fibers[i].sp);
                ran = true;
            }
        if (aborting) return false;
        bool released = false;
        for (size_t w = 0; w < warpWaiting.size(); w++)
        {
            int live = warpSize_[w] - warpExited[w];
            if (warpWaiting[w] > 0 && warpWaiting[w] == live)
            {
                for (int l = 0; l < warpSize_[w]; l++)
                {
                    Fiber& f = fibers[w * 32 + l];
                    if (f.state == Waiting && f.waitOn == (int)w) f.state = Runnable;
                }
                warpWaiting[w] = 0;
                released = true;
            }
        }
        int live = threads - exited;
        if (blockWaiting > 0 && blockWaiting == live)
        {
            if (exited > 0)
            {
                fail("__syncthreads reached by " + std::to_string(live) + " threads of a block after " + std::to_string(exited) +
                     " had exited (" + where(0) + ")");
                return false;
            }
            for (int i = 0; i < threads; i++)
                if (fibers[i].state == Waiting && fibers[i].waitOn == BlockBarrier) fibers[i].state = Runnable;
            blockWaiting = 0;
            released = true;
        }
        if (!ran && !released && exited < threads)
        {
            int atBlock = 0, atWarp = 0;
            for (int i = 0; i < threads; i++)
                if (fibers[i].state == Waiting) (fibers[i].waitOn == BlockBarrier ? atBlock : atWarp)++;
            fail("deadlock: " + std::to_string(atBlock) + " threads wait at __syncthreads, " + std::to_string(atWarp) +
                 " at a warp shuffle, " + std::to_string(exited) + " exited (" + where(0) + ")");
            return false;
        }
    }
    return true;
}

template <class T> inline T shuffle(T v, int srcLane)
{
    static_assert(sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
    int me = current, w = me >> 5;
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    slots[me] = bits;
    wait(w);
    T r = v;
    int src = w * 32 + srcLane;
    if (srcLane < 0 || srcLane >= warpSize_[w] || fibers[src].state == Done)
        fail("shuffle from lane " + std::to_string(srcLane) + ", which is outside the block or has exited (" + where(me) + ")");
    else
        std::memcpy(&r, &slots[src], sizeof(T));
    wait(w); // nobody overwrites a slot before every lane has read
    return r;
}

template <class... A, size_t... I> inline void invoke_impl(void (*k)(A...), void** p, std::index_sequence<I...>)
{
    k(*reinterpret_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(p[I])...);
}
template <class... A> inline void invoke(void (*k)(A...), void** p) { invoke_impl(k, p, std::index_sequence_for<A...>{}); }
} // namespace pc_emu

// ---- CUDA built-ins used by kernels/ ----
inline void __syncthreads() { pc_emu::wait(pc_emu::BlockBarrier); }
inline void __threadfence() {}
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
template <class T> inline T __shfl_xor_sync(unsigned, T v, int laneMask, int width = 32)
{
    int lane = pc_emu::current & 31;
    int src = (lane & ~(width - 1)) | ((lane ^ laneMask) & (width - 1));
    return pc_emu::shuffle(v, src);
}
template <class T> inline T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32)
{
    int lane = pc_emu::current & 31;
    int src = (int)((lane & (width - 1)) + delta) < width ? lane + (int)delta : lane;
    return pc_emu::shuffle(v, src);
}
template <class T> inline T atomicAdd(T* p, T v) { T old = *p; *p = old + v; return old; }

// IEEE binary16 conversions, round to nearest even (what cvt.rn.f16.f32 does), for common.cuh's fp16 storage.
inline unsigned short pc_emu_float_to_half(float f)
{
    uint32_t x;
    std::memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, mant = x & 0x7fffffu;
    int exp = (int)((x >> 23) & 0xff);
    if (exp == 0xff) return (unsigned short)(sign | 0x7c00u | (mant ? 0x200u | (mant >> 13) : 0u));
    int e = exp - 127 + 15;
    if (e >= 31) return (unsigned short)(sign | 0x7c00u);
    if (e <= 0)
    {
        if (e < -10) return (unsigned short)sign;
        uint32_t m = mant | 0x800000u;
        int shift = 14 - e;
        uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1u))) h++;
        return (unsigned short)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
    return (unsigned short)(sign | h);
}
inline float pc_emu_half_to_float(unsigned short h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, mant = h & 0x3ffu;
    int exp = (h >> 10) & 0x1f;
    uint32_t bits;
    if (exp == 0)
    {
        float f = std::ldexp((float)mant, -24);
        return sign ? -f : f;
    }
    if (exp == 31) bits = sign | 0x7f800000u | (mant << 13);
    else bits = sign | ((uint32_t)(exp - 15 + 127) << 23) | (mant << 13);
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

// Runs a whole grid: called by the emulated driver's cuLaunchKernel. Returns 0, or 1 with the reason in err.
PC_EMU_EXPORT int pc_emu_launch(void (*kernelEntry)(void**), const unsigned* grid, const unsigned* block,
                                unsigned sharedBytes, void** kernelParams, char* err, int errBytes)
{
    using namespace pc_emu;
    entry = kernelEntry;
    params = kernelParams;
    gridDim = {grid[0], grid[1], grid[2]};
    blockDim = {block[0], block[1], block[2]};
    threads = (int)(block[0] * block[1] * block[2]);
    int warps = (threads + 31) / 32;
    fibers.assign(threads, Fiber{});
    if (stackThreads < (size_t)threads)
    {
        if (stacks) munmap(stacks, stackThreads * StackBytes);
        void* m = mmap(nullptr, (size_t)threads * StackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED)
        {
            std::snprintf(err, errBytes, "cannot map %d fiber stacks", threads);
            stacks = nullptr;
            stackThreads = 0;
            return 1;
        }
        stacks = (char*)m;
        stackThreads = (size_t)threads;
    }
    warpWaiting.assign(warps, 0);
    warpExited.assign(warps, 0);
    warpSize_.assign(warps, 32);
    if (threads % 32) warpSize_[warps - 1] = threads % 32;
    slots.assign(threads, 0);
    order.resize(threads);
    for (int i = 0; i < threads; i++) order[i] = i;
    orderState = 0x9E3779B97F4A7C15ull;
    dynamicShared.resize(sharedBytes + 16); // poisoned by run_block, as the static __shared__ section is
    failure.clear();
    aborting = false;
    for (unsigned z = 0; z < grid[2]; z++)
        for (unsigned y = 0; y < grid[1]; y++)
            for (unsigned x = 0; x < grid[0]; x++)
            {
                blockIdx = {x, y, z};
                if (!run_block())
                {
                    std::snprintf(err, errBytes, "%s", failure.c_str());
                    return 1;
                }
            }
    return 0;
}
