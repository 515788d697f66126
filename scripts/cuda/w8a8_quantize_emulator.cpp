// CPU emulation of the W8A8 activation quantisers (driven by emulate_w8a8_quantize.py, which extracts
// td_w8a8_quantize, td_w8a8_quantize_block and td_w8a8_tile with common.cu's reductions into
// w8a8_extract.inc): td_w8a8_quantize_block must write what td_w8a8_quantize (the first kernel, the
// reference layout) writes, bit for bit, and with `tiled` exactly td_w8a8_tile's tiles of that result,
// every byte of every tile (rows past M and columns past kp zero). Outputs start poisoned. One
// std::thread per CUDA thread, a barrier per block and per warp (__syncthreads, shuffles).
#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
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
static float half_to_float(u16 h) { _Float16 x; std::memcpy(&x, &h, 2); return (float)x; }
static float load_float(const void* p, i64 i, int dt) {
    if (dt == DT_BF16) return bf16_to_float(((const u16*)p)[i]);
    if (dt == DT_F16) return half_to_float(((const u16*)p)[i]);
    return ((const float*)p)[i];
}
static float __fdiv_rn(float a, float b) { return a / b; }
static int __float2int_rn(float v) { return (int)std::nearbyint(v); }   // round half to even (default mode)
template <class T> static T min(T a, T b) { return a < b ? a : b; }
template <class T> static T max(T a, T b) { return a < b ? b : a; }
struct alignas(16) uint4 { u32 x, y, z, w; };
struct alignas(8) uint2 { u32 x, y; };
static uint4 make_uint4(u32 a, u32 b, u32 c, u32 d) { return {a, b, c, d}; }
static uint2 make_uint2(u32 a, u32 b) { return {a, b}; }

struct Warp {
    u32 val[32];
    std::barrier<> bar{32};
};
static std::barrier<>* block_barrier;
static Warp* warps;
static void __syncthreads() { block_barrier->arrive_and_wait(); }
static float __shfl_xor_sync(unsigned, float v, int m) {
    Warp& w = warps[threadIdx.x >> 5];
    const int lane = threadIdx.x & 31;
    w.val[lane] = float_bits(v);
    w.bar.arrive_and_wait();
    const float r = bits_float(w.val[lane ^ m]);
    w.bar.arrive_and_wait();
    return r;
}

#include "w8a8_extract.inc"

// Runs `kernel` over a 2-D grid, one block at a time, one std::thread per CUDA thread.
template <class F>
static void launch(unsigned gx, unsigned gy, unsigned threads, F kernel) {
    gridDim = {gx, gy, 1};
    blockDim = {threads, 1, 1};
    for (unsigned by = 0; by < gy; ++by)
        for (unsigned bx = 0; bx < gx; ++bx) {
            std::barrier<> bar(threads);
            block_barrier = &bar;
            std::unique_ptr<Warp[]> ws(new Warp[(threads + 31) / 32]);
            warps = ws.get();
            std::vector<std::thread> pool;
            for (unsigned t = 0; t < threads; ++t)
                pool.emplace_back([&, t] {
                    threadIdx = {t, 1, 1};
                    blockIdx = {bx, by, 1};
                    kernel();
                });
            for (auto& t : pool) t.join();
        }
}

static const char* NAMES[3] = {"f32", "bf16", "f16"};

// x [m, k] of dtype dt, 16-byte aligned; values salted with zeros and one all-zero block row when
// asked (its scale is 0: every value quantises to 0 without a division).
static bool run(i64 m, i64 k, int dt, bool zero_block, std::mt19937& g) {
    const int size = dt == DT_F32 ? 4 : 2;
    const i64 kp = (k + 15) / 16 * 16, kb = (k + 127) / 128, mb = (m + 127) / 128;
    std::vector<unsigned char, std::allocator<unsigned char>> xb(m * k * size + 16);
    void* x = (void*)(((uintptr_t)xb.data() + 15) & ~(uintptr_t)15);
    std::normal_distribution<float> nd(0.0f, 2.0f);
    for (i64 i = 0; i < m * k; ++i) {
        float v = (g() % 11 == 0) ? 0.0f : nd(g);
        if (zero_block && i / k < 128 && m > 128) v = 0.0f;
        if (dt == DT_F32) ((float*)x)[i] = v;
        else {
            u32 b = float_bits(v);
            u16 h;
            if (dt == DT_BF16) h = (u16)((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
            else { _Float16 f = (_Float16)v; std::memcpy(&h, &f, 2); }
            ((u16*)x)[i] = h;
        }
    }
    std::vector<signed char> ref(m * kp, 77), rows(m * kp, 77), tiles(mb * kb * 128 * 128, 77), retiled(tiles.size(), 66);
    std::vector<float> sref(mb * kb, NAN), srows(mb * kb, NAN), stiles(mb * kb, NAN);
    launch(kb, mb, 256, [&] { td_w8a8_quantize(ref.data(), sref.data(), x, dt, m, k, kp, (int)kb); });
    launch(kb, mb, 256, [&] { td_w8a8_quantize_block(rows.data(), srows.data(), x, dt, m, k, kp, (int)kb, 0); });
    launch(kb, mb, 256, [&] { td_w8a8_quantize_block(tiles.data(), stiles.data(), x, dt, m, k, kp, (int)kb, 1); });
    launch(kb, mb, 256, [&] { td_w8a8_tile(retiled.data(), ref.data(), m, kp, (int)kb); });
    const bool rows_ok = rows == ref && std::memcmp(srows.data(), sref.data(), sref.size() * 4) == 0;
    const bool tiles_ok = tiles == retiled && std::memcmp(stiles.data(), sref.data(), sref.size() * 4) == 0;
    i64 first = -1;
    for (size_t i = 0; i < tiles.size() && first < 0; ++i)
        if (tiles[i] != retiled[i]) first = (i64)i;
    const bool vec = dt != DT_F32 && k % 8 == 0;
    std::printf("%s %s x [%lld, %lld] (kp %lld, %lld × %lld blocks, %s path%s): rows %s, tiles %s%s\n",
                rows_ok && tiles_ok ? "ok  " : "FAIL", NAMES[dt], (long long)m, (long long)k, (long long)kp, (long long)mb,
                (long long)kb, vec ? "16-byte" : "scalar", zero_block ? ", a zero block row" : "",
                rows_ok ? "= td_w8a8_quantize" : "DIFFER", tiles_ok ? "= td_w8a8_tile of it" : "DIFFER",
                first >= 0 ? (" (first tile byte at " + std::to_string(first) + ")").c_str() : "");
    return rows_ok && tiles_ok;
}

int main() {
    std::mt19937 g(11);
    bool ok = true;
    const i64 shapes[][2] = {{300, 300}, {17, 77}, {129, 1040}, {333, 1100}, {200, 256}, {130, 136}, {64, 1536}, {1, 8}};
    for (int dt : {DT_BF16, DT_F32, DT_F16})
        for (auto& s : shapes) ok = run(s[0], s[1], dt, false, g) && ok;
    ok = run(300, 384, DT_BF16, true, g) && ok;
    ok = run(300, 300, DT_F32, true, g) && ok;
    std::printf(ok ? "all cases passed\n" : "FAILED\n");
    return ok ? 0 : 1;
}
