// CPU emulation of the fused flash-attention kernel of Sources/BackendCUDA/Kernels/attention.cu.
// The kernel's own device code (pack_pair … flash_attention, extracted by
// emulate_flash_attention.py into flash_extract.inc) runs with one std::thread per CUDA thread;
// __syncthreads, warp shuffles and mma.m16n8k16 are emulated with barriers, the mma fragments
// decoded from the PTX ISA layouts written independently below as (thread, value) → element
// maps; cp.async copies land either at issue ("early") or only at the wait that covers them
// ("late"), so a missing wait or barrier shows up in one of the two. Compares with a double
// precision reference rounded to the input type (as the CPU backend rounds its result).
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

typedef unsigned short u16;
typedef unsigned int u32;
typedef long long i64;
struct Dim3 { unsigned x = 0, y = 0, z = 0; };
thread_local Dim3 threadIdx, blockIdx;
#define __device__
#define __forceinline__ inline

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

// ---- block and warp state
struct Warp {
    u32 a[32][4], b[32][2];
    float c[32][4], shfl[32];
    std::barrier<> bar{32};
};
static std::barrier<>* block_barrier;
static Warp* warps;
static unsigned char* fa_smem;
static bool late_copies;
static bool emulate_bf16;

static void __syncthreads() { block_barrier->arrive_and_wait(); }
static float __shfl_xor_sync(unsigned, float v, int m) {
    Warp& w = warps[threadIdx.x >> 5];
    const int lane = threadIdx.x & 31;
    w.shfl[lane] = v;
    w.bar.arrive_and_wait();
    const float r = w.shfl[lane ^ m];
    w.bar.arrive_and_wait();
    return r;
}

struct Copy { void* dst; const void* src; u32 bytes; };
thread_local std::vector<Copy> open_group;
thread_local std::vector<std::vector<Copy>> pending;
static void perform(const Copy& c) {
    std::memset(c.dst, 0, 16);
    if (c.bytes) std::memcpy(c.dst, c.src, c.bytes);
}
static void cp_async16(void* dst, const void* src, u32 bytes) {
    if ((uintptr_t)dst % 16 || (bytes && (uintptr_t)src % 16)) { std::fprintf(stderr, "misaligned cp.async\n"); std::abort(); }
    if (late_copies) open_group.push_back({dst, src, bytes}); else perform({dst, src, bytes});
}
static void cp_async_commit() { pending.push_back(open_group); open_group.clear(); }
template <int N> static void cp_async_wait() {
    while ((int)pending.size() > N) {
        for (auto& c : pending.front()) perform(c);
        pending.erase(pending.begin());
    }
}

// Fragment element values: value v of a lane is half v%2 (low half first) of register v/2.
static float elem(u32 reg, int half) {
    const u16 h = (u16)(reg >> (16 * half));
    return emulate_bf16 ? bf16_to_float(h) : half_to_float(h);
}
template <bool BF16>
static void mma_16816(float* c, const u32* a, u32 b0, u32 b1) {
    Warp& w = warps[threadIdx.x >> 5];
    const int lane = threadIdx.x & 31;
    for (int i = 0; i < 4; ++i) { w.a[lane][i] = a[i]; w.c[lane][i] = c[i]; }
    w.b[lane][0] = b0; w.b[lane][1] = b1;
    w.bar.arrive_and_wait();
    float d[4];
    for (int e = 0; e < 4; ++e) {
        // Layouts as (lane = t0 + 4·t1, value) → element, t0 ∈ 0..3, t1 ∈ 0..7:
        // C/D 16×8: value v0 + 2·v1 → (row t1 + 8·v1, col 2·t0 + v0).
        const int row = (lane >> 2) + 8 * (e >> 1), col = 2 * (lane & 3) + (e & 1);
        double acc = 0;
        for (int k = 0; k < 16; ++k) {
            // A 16×16: value v0 + 2·v1 + 4·v2 → (row t1 + 8·v1, k 2·t0 + v0 + 8·v2).
            const int al = (k % 8) / 2 + 4 * (row % 8), av = (k % 2) + 2 * (row / 8) + 4 * (k / 8);
            // B 16×8: value v0 + 2·v1 → (k 2·t0 + v0 + 8·v1, col t1).
            const int bl = (k % 8) / 2 + 4 * col, bv = (k % 2) + 2 * (k / 8);
            acc += (double)elem(w.a[al][av / 2], av % 2) * (double)elem(w.b[bl][bv / 2], bv % 2);
        }
        d[e] = w.c[lane][e] + (float)acc;
    }
    w.bar.arrive_and_wait();
    for (int e = 0; e < 4; ++e) c[e] = d[e];
}

#include "flash_extract.inc"

// ---- driver
static double run_case(bool bf16, int D, int B, int H, int Lq, int Lk, bool late, unsigned seed) {
    late_copies = late;
    emulate_bf16 = bf16;
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1, 1);
    auto to16 = [&](float f) { return bf16 ? float_to_bf16(f) : float_to_half(f); };
    auto from16 = [&](u16 h) { return bf16 ? bf16_to_float(h) : half_to_float(h); };
    // q, k, v as the DiT's [B, L, H·D] head views; out dense [B, H, Lq, D].
    std::vector<u16> q((size_t)B * Lq * H * D), k((size_t)B * Lk * H * D), v((size_t)B * Lk * H * D);
    for (auto& x : q) x = to16(2 * u(rng));
    for (auto& x : k) x = to16(u(rng));
    for (auto& x : v) x = to16(u(rng));
    std::vector<u16> out((size_t)B * H * Lq * D, 0xFFFF);
    const i64 qsb = (i64)Lq * H * D, ksb = (i64)Lk * H * D, sh = D, sl = (i64)H * D;
    const i64 osb = (i64)H * Lq * D, osh = (i64)Lq * D, osl = D;
    const float scale = 1.0f / std::sqrt((float)D);
    const float scale_log2 = (float)(scale * 1.4426950408889634);
    const size_t smem_bytes = 3 * 64 * (D + 8) * 2;
    std::vector<unsigned char> smem(smem_bytes + 16);
    unsigned char* aligned = (unsigned char*)(((uintptr_t)smem.data() + 15) & ~(uintptr_t)15);
    for (unsigned bz = 0; bz < (unsigned)B; ++bz)
        for (unsigned by = 0; by < (unsigned)H; ++by)
            for (unsigned bx = 0; bx < (unsigned)((Lq + 63) / 64); ++bx) {
                std::memset(aligned, 0xFF, smem_bytes);   // NaN everywhere a tile load did not write
                fa_smem = aligned;
                std::barrier<> bb(128);
                block_barrier = &bb;
                std::vector<Warp> ws(4);
                warps = ws.data();
                std::vector<std::thread> threads;
                for (unsigned t = 0; t < 128; ++t)
                    threads.emplace_back([&, t] {
                        threadIdx.x = t;
                        blockIdx = {bx, by, bz};
                        if (bf16) {
                            if (D == 64) flash_attention<true, 64>(out.data(), q.data(), k.data(), v.data(), Lq, Lk, scale_log2, qsb, sh, sl, ksb, sh, sl, ksb, sh, sl, osb, osh, osl);
                            else flash_attention<true, 128>(out.data(), q.data(), k.data(), v.data(), Lq, Lk, scale_log2, qsb, sh, sl, ksb, sh, sl, ksb, sh, sl, osb, osh, osl);
                        } else {
                            if (D == 64) flash_attention<false, 64>(out.data(), q.data(), k.data(), v.data(), Lq, Lk, scale_log2, qsb, sh, sl, ksb, sh, sl, ksb, sh, sl, osb, osh, osl);
                            else flash_attention<false, 128>(out.data(), q.data(), k.data(), v.data(), Lq, Lk, scale_log2, qsb, sh, sl, ksb, sh, sl, ksb, sh, sl, osb, osh, osl);
                        }
                    });
                for (auto& th : threads) th.join();
            }
    // Reference in double from the same rounded inputs, rounded to the output type (as the CPU backend does).
    double num = 0, den = 0;
    for (int b = 0; b < B; ++b)
        for (int h = 0; h < H; ++h)
            for (int i = 0; i < Lq; ++i) {
                std::vector<double> s(Lk);
                double m = -INFINITY;
                for (int j = 0; j < Lk; ++j) {
                    double acc = 0;
                    for (int c = 0; c < D; ++c)
                        acc += (double)from16(q[b * qsb + i * sl + h * sh + c]) * from16(k[b * ksb + j * sl + h * sh + c]);
                    s[j] = acc * scale;
                    m = std::max(m, s[j]);
                }
                double sum = 0;
                for (int j = 0; j < Lk; ++j) { s[j] = std::exp(s[j] - m); sum += s[j]; }
                for (int c = 0; c < D; ++c) {
                    double o = 0;
                    for (int j = 0; j < Lk; ++j) o += s[j] * from16(v[b * ksb + j * sl + h * sh + c]);
                    const double ref = from16(to16((float)(o / sum)));
                    const double got = from16(out[b * osb + h * osh + (i64)i * osl + c]);
                    if (!std::isfinite(got)) return NAN;
                    num += (got - ref) * (got - ref);
                    den += ref * ref;
                }
            }
    return num / den;
}

int main() {
    struct Case { bool bf16; int D, B, H, Lq, Lk; };
    const Case cases[] = {
        {true, 64, 2, 3, 77, 93}, {true, 128, 2, 3, 77, 93}, {false, 64, 1, 2, 77, 93}, {false, 128, 1, 2, 130, 64},
        {true, 64, 1, 1, 5, 3}, {true, 128, 1, 2, 64, 128}, {true, 64, 1, 1, 200, 300}, {false, 128, 1, 1, 1, 1},
    };
    int failed = 0;
    for (const auto& c : cases)
        for (int late = 0; late < 2; ++late) {
            const double e = run_case(c.bf16, c.D, c.B, c.H, c.Lq, c.Lk, late, 1234 + c.Lq);
            const double bound = c.bf16 ? 1e-4 : 1e-6;
            const bool ok = e <= bound;
            failed += !ok;
            std::printf("%s %s D=%d B=%d H=%d Lq=%d Lk=%d copies %s: nmse %.2e %s\n", ok ? "ok  " : "FAIL", c.bf16 ? "bf16" : "f16 ",
                        c.D, c.B, c.H, c.Lq, c.Lk, late ? "late " : "early", e, ok ? "" : "(above bound or non-finite)");
        }
    return failed ? 1 : 0;
}
