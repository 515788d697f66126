// What the CPU emulators of scripts/cuda (norms_emulator.cpp, w8a8_quantize_emulator.cpp) need to compile a
// kernel family's source as C++ and run it thread by thread: emulator_scalar.h, and one std::thread per
// CUDA thread with a barrier per block (__syncthreads) and per warp (shuffles). Include it before the
// extracted kernel source.
#pragma once
#include <barrier>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>
#include "emulator_scalar.h"
struct Dim3 { unsigned x = 1, y = 1, z = 1; };
thread_local Dim3 threadIdx, blockIdx;
Dim3 gridDim, blockDim;

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
