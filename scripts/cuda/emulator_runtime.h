// What the CPU emulators of scripts/cuda (norms_emulator.cpp, w8a8_quantize_emulator.cpp) need to compile a
// kernel family's source as C++ and run it thread by thread: common.cu's fixed-width types and dtype
// conversions as plain C++ (round to nearest even, NaN kept quiet, as the PTX cvt does), the `__f*_rn`
// intrinsics as single IEEE operations (compile with -ffp-contract=off so none is fused), and one
// std::thread per CUDA thread with a barrier per block (__syncthreads) and per warp (shuffles).
// Include it before the extracted kernel source.
#pragma once
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>
typedef unsigned short u16;
typedef unsigned int u32;
typedef long long i64;
typedef unsigned long long u64;
struct Dim3 { unsigned x = 1, y = 1, z = 1; };
thread_local Dim3 threadIdx, blockIdx;
Dim3 gridDim, blockDim;
#define __device__
#define __forceinline__ inline
#define __global__
#define __launch_bounds__(...)
#define __shared__ static
#define DT_F32 0
#define DT_BF16 1
#define DT_F16 2

static float bits_float(u32 b) { float f; std::memcpy(&f, &b, 4); return f; }
static u32 float_bits(float f) { u32 b; std::memcpy(&b, &f, 4); return b; }
static float __int_as_float(int b) { return bits_float((u32)b); }
static float bf16_to_float(u16 h) { return bits_float(((u32)h) << 16); }
static u16 float_to_bf16(float f) {
    u32 b = float_bits(f);
    if ((b & 0x7fffffffu) > 0x7f800000u) return (u16)((b >> 16) | 0x40u);
    b += 0x7fffu + ((b >> 16) & 1u);
    return (u16)(b >> 16);
}
static float half_to_float(u16 h) { _Float16 x; std::memcpy(&x, &h, 2); return (float)x; }
static u16 float_to_half(float f) { _Float16 x = (_Float16)f; u16 h; std::memcpy(&h, &x, 2); return h; }
static float load_float(const void* p, i64 i, int dt) {
    if (dt == DT_BF16) return bf16_to_float(((const u16*)p)[i]);
    if (dt == DT_F16) return half_to_float(((const u16*)p)[i]);
    return ((const float*)p)[i];
}
static void store_float(void* p, i64 i, int dt, float v) {
    if (dt == DT_BF16) ((u16*)p)[i] = float_to_bf16(v);
    else if (dt == DT_F16) ((u16*)p)[i] = float_to_half(v);
    else ((float*)p)[i] = v;
}
static float __fadd_rn(float a, float b) { return a + b; }
static float __fsub_rn(float a, float b) { return a - b; }
static float __fmul_rn(float a, float b) { return a * b; }
static float __fdiv_rn(float a, float b) { return a / b; }
static float __fmaf_rn(float a, float b, float c) { return std::fmaf(a, b, c); }
static int __float2int_rn(float v) { return (int)std::nearbyint(v); }   // half to even in the default mode
template <class T> static T min(T a, T b) { return a < b ? a : b; }
template <class T> static T max(T a, T b) { return a < b ? b : a; }

struct float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) uint2 { u32 x, y; };
struct alignas(16) uint4 { u32 x, y, z, w; };
static float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
static uint2 make_uint2(u32 a, u32 b) { return {a, b}; }
static uint4 make_uint4(u32 a, u32 b, u32 c, u32 d) { return {a, b, c, d}; }

// Dynamic shared memory of the running block, refilled with 0xff bytes (NaNs as f32) before each block.
alignas(16) static unsigned char emu_smem[1 << 17];

struct EmuWarp {
    u32 val[32];
    std::barrier<> bar{32};
};
static std::barrier<>* emu_block_barrier;
static EmuWarp* emu_warps;
static void __syncthreads() { emu_block_barrier->arrive_and_wait(); }
// Lanes of a warp are the 32 consecutive x indices of a block (the emulated kernels' warps).
static float __shfl_xor_sync(unsigned, float v, int m) {
    EmuWarp& w = emu_warps[threadIdx.x >> 5];
    const int lane = threadIdx.x & 31;
    w.val[lane] = float_bits(v);
    w.bar.arrive_and_wait();
    const float r = bits_float(w.val[lane ^ m]);
    w.bar.arrive_and_wait();
    return r;
}

// Runs `kernel` over `grid`, one block at a time, one std::thread per CUDA thread of `block`.
template <class F>
static void emu_launch(Dim3 grid, Dim3 block, F kernel) {
    gridDim = grid;
    blockDim = block;
    const unsigned n = block.x * block.y;
    for (unsigned by = 0; by < grid.y; ++by)
        for (unsigned bx = 0; bx < grid.x; ++bx) {
            std::memset(emu_smem, 0xff, sizeof emu_smem);
            std::barrier<> bar(n);
            emu_block_barrier = &bar;
            std::unique_ptr<EmuWarp[]> ws(new EmuWarp[(n + 31) / 32]);
            emu_warps = ws.get();
            std::vector<std::thread> threads;
            for (unsigned t = 0; t < n; ++t)
                threads.emplace_back([&, t] {
                    threadIdx = {t % block.x, t / block.x, 1};
                    blockIdx = {bx, by, 1};
                    kernel();
                });
            for (auto& t : threads) t.join();
        }
}
