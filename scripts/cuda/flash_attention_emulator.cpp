// CPU emulation of the fused flash-attention kernels: attention.cu's td_flash_attn (v1) and
// flash_attention.cu's td_fa2 dense and block-sparse kernels. The kernels' own device code
// (extracted by emulate_flash_attention.py into flash_extract.inc and fa2_extract.inc) runs with
// one std::thread per CUDA thread; ldmatrix (.x4, .trans) is emulated from the PTX ISA's fragment
// description, shared addresses are byte offsets into the block's buffer (bounds and alignment
// checked);
// __syncthreads, warp shuffles and mma.m16n8k16 are emulated with barriers, the mma fragments
// decoded from the PTX ISA layouts written independently below as (thread, value) → element
// maps; cp.async copies land either at issue ("early") or only at the wait that covers them
// ("late"), so a missing wait or barrier shows up in one of the two. Compares with a double
// precision reference rounded to the input type (as the CPU backend rounds its result).
#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "emulator_scalar.h"
struct Dim3 { unsigned x = 0, y = 0, z = 0; };
thread_local Dim3 threadIdx, blockIdx, gridDim;

// ---- block and warp state
struct Warp {
    u32 a[32][4], b[32][2], addr[32];
    float c[32][4], shfl[32];
    int vote[32];
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

// ---- td_fa2 primitives (flash_attention.cu's "primitives" section, emulated)
static int __any_sync(unsigned, bool p) {
    Warp& w = warps[threadIdx.x >> 5];
    const int lane = threadIdx.x & 31;
    w.vote[lane] = p;
    w.bar.arrive_and_wait();
    int any = 0;
    for (int l = 0; l < 32; ++l) any |= w.vote[l];
    w.bar.arrive_and_wait();
    return any;
}
static int min(int a, int b) { return a < b ? a : b; }
static unsigned char* fa2_smem;
static size_t fa2_smem_bytes;
static u32 fa2_smem_base() { return 0; }
static unsigned char* fa2_at(u32 a, u32 bytes, u32 align) {
    if (a % align || (size_t)a + bytes > fa2_smem_bytes) {
        std::fprintf(stderr, "shared access at %u (+%u) out of bounds or misaligned\n", a, bytes);
        std::abort();
    }
    return fa2_smem + a;
}
static void fa2_cp_async16(u32 dst, const void* src, u32 bytes) { cp_async16(fa2_at(dst, 16, 16), src, bytes); }
static void fa2_commit() { cp_async_commit(); }
template <int N> static void fa2_wait() { cp_async_wait<N>(); }
// ldmatrix.x4: lanes 8i..8i+7 give the rows of matrix i (16-byte aligned, 8 b16 each); lane l
// receives in register i (row l/4, cols 2(l%4), 2(l%4)+1) of matrix i, or with .trans
// (rows 2(l%4), 2(l%4)+1; col l/4). Lower element in the low half.
static void fa2_ldmatrix_any(u32* r, u32 row, bool trans) {
    Warp& w = warps[threadIdx.x >> 5];
    const int lane = threadIdx.x & 31;
    w.addr[lane] = row;
    w.bar.arrive_and_wait();
    for (int i = 0; i < 4; ++i) {
        u16 e[2];
        for (int h = 0; h < 2; ++h) {
            const int mrow = trans ? 2 * (lane % 4) + h : lane / 4, mcol = trans ? lane / 4 : 2 * (lane % 4) + h;
            const unsigned char* p = fa2_at(w.addr[8 * i + mrow], 16, 16);
            std::memcpy(&e[h], p + 2 * mcol, 2);
        }
        r[i] = (u32)e[0] | ((u32)e[1] << 16);
    }
    w.bar.arrive_and_wait();
}
static void fa2_ldmatrix(u32* r, u32 row) { fa2_ldmatrix_any(r, row, false); }
static void fa2_ldmatrix_trans(u32* r, u32 row) { fa2_ldmatrix_any(r, row, true); }
template <bool BF16> static void fa2_mma(float* c, const u32* a, u32 b0, u32 b1) { mma_16816<BF16>(c, a, b0, b1); }
static float fa2_exp2(float x) { return std::exp2(x); }

#include "fa2_extract.inc"

// Runs fn on every thread of every block of a (gx, gy, gz) grid of 128-thread blocks.
template <class F>
static void fa2_launch(unsigned gx, unsigned gy, unsigned gz, size_t smem_bytes, F fn) {
    std::vector<unsigned char> smem(smem_bytes + 16);
    for (unsigned bz = 0; bz < gz; ++bz)
        for (unsigned by = 0; by < gy; ++by)
            for (unsigned bx = 0; bx < gx; ++bx) {
                fa2_smem = (unsigned char*)(((uintptr_t)smem.data() + 15) & ~(uintptr_t)15);
                fa2_smem_bytes = smem_bytes;
                std::memset(fa2_smem, 0xFF, smem_bytes);   // NaN wherever a tile load did not write
                std::barrier<> bb(FA2_THREADS);
                block_barrier = &bb;
                std::vector<Warp> ws(FA2_THREADS / 32);
                warps = ws.data();
                std::vector<std::thread> threads;
                for (unsigned t = 0; t < FA2_THREADS; ++t)
                    threads.emplace_back([&, t] {
                        threadIdx.x = t;
                        blockIdx = {bx, by, bz};
                        gridDim = {gx, gy, gz};
                        open_group.clear();
                        pending.clear();
                        fn();
                    });
                for (auto& th : threads) th.join();
            }
}

// One td_fa2 case: dense when blockQ == 0, else block-sparse with blocks of blockQ × blockK and
// `keep` listed key blocks per query block (random, including the last partial block and, when
// `invalid`, an out-of-range index that must be skipped). Inputs are the DiT's [B, L, H·D] head
// views; out a [B, Lq, H, D] buffer viewed as [B, H, Lq, D] (the backend's layout). Returns the nmse against a double reference rounded to the type.
static double run_fa2(bool bf16, int D, int B, int H, int Lq, int Lk, int blockQ, int blockK, int keep, bool invalid,
                      bool late, unsigned seed) {
    late_copies = late;
    emulate_bf16 = bf16;
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1, 1);
    auto to16 = [&](float f) { return bf16 ? float_to_bf16(f) : float_to_half(f); };
    auto from16 = [&](u16 h) { return bf16 ? bf16_to_float(h) : half_to_float(h); };
    std::vector<u16> q((size_t)B * Lq * H * D), k((size_t)B * Lk * H * D), v((size_t)B * Lk * H * D);
    for (auto& x : q) x = to16(2 * u(rng));
    for (auto& x : k) x = to16(u(rng));
    for (auto& x : v) x = to16(u(rng));
    std::vector<u16> out((size_t)B * H * Lq * D, 0xFFFF);
    const i64 qsb = (i64)Lq * H * D, ksb = (i64)Lk * H * D, sh = D, sl = (i64)H * D;
    const i64 osb = (i64)H * Lq * D, osh = D, osl = (i64)H * D;   // [B, Lq, H, D] memory, as the backend allocates
    const float scale = 1.0f / std::sqrt((float)D);
    const float scale_log2 = (float)(scale * 1.4426950408889634);
    const bool sparse = blockQ > 0;
    const int mq = sparse ? (Lq + blockQ - 1) / blockQ : 0, mk = sparse ? (Lk + blockK - 1) / blockK : 0;
    std::vector<int> blocks((size_t)B * H * mq * keep);
    for (size_t r = 0; r < blocks.size() / (keep ? keep : 1); ++r) {
        std::vector<int> all(mk);
        for (int j = 0; j < mk; ++j) all[j] = j;
        std::shuffle(all.begin(), all.end(), rng);
        for (int s = 0; s < keep; ++s) blocks[r * keep + s] = all[s % mk];
        if (keep > 1 && r % 3 == 0) blocks[r * keep + 1] = mk - 1;   // the last (partial) block
        if (invalid && r % 4 == 1) blocks[r * keep + keep - 1] = r % 8 == 1 ? -1 : mk;
    }
    const int mt = sparse ? blockQ / 64 : 2;
    const size_t smem = (size_t)(64 * mt + 4 * 64) * (D + 8) * 2;
    const unsigned gx = sparse ? mq : (Lq + 127) / 128;
    fa2_launch(gx, H, B, smem, [&] {
#define FA2_ARGS_TAIL scale_log2, qsb, sh, sl, ksb, sh, sl, ksb, sh, sl, osb, osh, osl
#define FA2_SPARSE_CALL(BF, DD, MT) \
    fa2_sparse<BF, DD, MT>(out.data(), q.data(), k.data(), v.data(), blocks.data(), Lq, Lk, blockK, keep, mq, mk, FA2_ARGS_TAIL)
        if (!sparse) {
            if (bf16 && D == 64) fa2_dense<true, 64>(out.data(), q.data(), k.data(), v.data(), Lq, Lk, FA2_ARGS_TAIL);
            if (bf16 && D == 128) fa2_dense<true, 128>(out.data(), q.data(), k.data(), v.data(), Lq, Lk, FA2_ARGS_TAIL);
            if (!bf16 && D == 64) fa2_dense<false, 64>(out.data(), q.data(), k.data(), v.data(), Lq, Lk, FA2_ARGS_TAIL);
            if (!bf16 && D == 128) fa2_dense<false, 128>(out.data(), q.data(), k.data(), v.data(), Lq, Lk, FA2_ARGS_TAIL);
        } else if (mt == 1) {
            if (bf16 && D == 64) FA2_SPARSE_CALL(true, 64, 1);
            if (bf16 && D == 128) FA2_SPARSE_CALL(true, 128, 1);
            if (!bf16 && D == 64) FA2_SPARSE_CALL(false, 64, 1);
            if (!bf16 && D == 128) FA2_SPARSE_CALL(false, 128, 1);
        } else {
            if (bf16 && D == 64) FA2_SPARSE_CALL(true, 64, 2);
            if (bf16 && D == 128) FA2_SPARSE_CALL(true, 128, 2);
            if (!bf16 && D == 64) FA2_SPARSE_CALL(false, 64, 2);
            if (!bf16 && D == 128) FA2_SPARSE_CALL(false, 128, 2);
        }
    });
    double num = 0, den = 0;
    for (int b = 0; b < B; ++b)
        for (int h = 0; h < H; ++h)
            for (int i = 0; i < Lq; ++i) {
                std::vector<int> keys;   // in visiting order, duplicates kept (as the CPU does)
                if (!sparse) {
                    for (int j = 0; j < Lk; ++j) keys.push_back(j);
                } else {
                    for (int s = 0; s < keep; ++s) {
                        const int blk = blocks[(((size_t)b * H + h) * mq + i / blockQ) * keep + s];
                        if (blk < 0 || blk >= mk) continue;
                        for (int j = blk * blockK; j < std::min(Lk, (blk + 1) * blockK); ++j) keys.push_back(j);
                    }
                }
                std::vector<double> sc(keys.size());
                double m = -INFINITY;
                for (size_t n = 0; n < keys.size(); ++n) {
                    double acc = 0;
                    for (int c = 0; c < D; ++c)
                        acc += (double)from16(q[b * qsb + i * sl + h * sh + c]) * from16(k[b * ksb + keys[n] * sl + h * sh + c]);
                    sc[n] = acc * scale;
                    m = std::max(m, sc[n]);
                }
                double sum = 0;
                for (auto& x : sc) { x = std::exp(x - m); sum += x; }
                for (int c = 0; c < D; ++c) {
                    double o = 0;
                    for (size_t n = 0; n < keys.size(); ++n) o += sc[n] * from16(v[b * ksb + keys[n] * sl + h * sh + c]);
                    const double got = from16(out[b * osb + h * osh + (i64)i * osl + c]);
                    if (keys.empty()) {   // no valid key: NaN expected
                        if (std::isfinite(got)) return NAN;
                        continue;
                    }
                    const double ref = from16(to16((float)(o / sum)));
                    if (!std::isfinite(got)) return NAN;
                    num += (got - ref) * (got - ref);
                    den += ref * ref;
                }
            }
    return den > 0 ? num / den : 0;
}

// ---- driver
static double run_case(bool bf16, int D, int B, int H, int Lq, int Lk, bool late, unsigned seed) {
    late_copies = late;
    emulate_bf16 = bf16;
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1, 1);
    auto to16 = [&](float f) { return bf16 ? float_to_bf16(f) : float_to_half(f); };
    auto from16 = [&](u16 h) { return bf16 ? bf16_to_float(h) : half_to_float(h); };
    // q, k, v as the DiT's [B, L, H·D] head views; out [B, Lq, H, D] memory viewed as [B, H, Lq, D].
    std::vector<u16> q((size_t)B * Lq * H * D), k((size_t)B * Lk * H * D), v((size_t)B * Lk * H * D);
    for (auto& x : q) x = to16(2 * u(rng));
    for (auto& x : k) x = to16(u(rng));
    for (auto& x : v) x = to16(u(rng));
    std::vector<u16> out((size_t)B * H * Lq * D, 0xFFFF);
    const i64 qsb = (i64)Lq * H * D, ksb = (i64)Lk * H * D, sh = D, sl = (i64)H * D;
    const i64 osb = (i64)H * Lq * D, osh = D, osl = (i64)H * D;   // [B, Lq, H, D] memory, as the backend allocates
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

// argv[1]: "v1", "fa2" or "all" (default).
int main(int argc, char** argv) {
    const std::string which = argc > 1 ? argv[1] : "all";
    int failed = 0;
    auto report = [&](bool bf16, double e, const char* what) {
        const double bound = bf16 ? 1e-4 : 1e-6;
        const bool ok = e <= bound;
        failed += !ok;
        std::printf("%s %s %s: nmse %.2e %s\n", ok ? "ok  " : "FAIL", bf16 ? "bf16" : "f16 ", what, e,
                    ok ? "" : "(above bound or non-finite)");
        std::fflush(stdout);
    };
    char what[200];
    if (which == "all" || which == "v1") {
        struct Case { bool bf16; int D, B, H, Lq, Lk; };
        const Case cases[] = {
            {true, 64, 2, 3, 77, 93}, {true, 128, 2, 3, 77, 93}, {false, 64, 1, 2, 77, 93}, {false, 128, 1, 2, 130, 64},
            {true, 64, 1, 1, 5, 3}, {true, 128, 1, 2, 64, 128}, {true, 64, 1, 1, 200, 300}, {false, 128, 1, 1, 1, 1},
        };
        for (const auto& c : cases)
            for (int late = 0; late < 2; ++late) {
                std::snprintf(what, sizeof what, "v1 D=%d B=%d H=%d Lq=%d Lk=%d copies %s", c.D, c.B, c.H, c.Lq, c.Lk,
                              late ? "late " : "early");
                report(c.bf16, run_case(c.bf16, c.D, c.B, c.H, c.Lq, c.Lk, late, 1234 + c.Lq), what);
            }
    }
    if (which == "all" || which == "fa2") {
        // blockQ = 0: dense.
        struct Case { bool bf16; int D, B, H, Lq, Lk, blockQ, blockK, keep; bool invalid; };
        const Case cases[] = {
            {true, 128, 1, 2, 77, 93, 0, 0, 0, false},    {true, 64, 2, 1, 200, 150, 0, 0, 0, false},
            {false, 128, 1, 1, 130, 64, 0, 0, 0, false},  {false, 64, 1, 1, 5, 3, 0, 0, 0, false},
            {true, 128, 1, 1, 257, 200, 0, 0, 0, false},  {true, 128, 1, 1, 1, 1, 0, 0, 0, false},
            {true, 128, 1, 2, 300, 333, 128, 64, 3, false}, {true, 64, 1, 1, 200, 260, 128, 64, 2, true},
            {false, 128, 1, 1, 150, 270, 64, 64, 1, false}, {true, 64, 2, 1, 130, 190, 64, 64, 3, true},
            {false, 64, 1, 1, 100, 300, 128, 128, 2, false}, {true, 128, 1, 1, 140, 330, 64, 128, 2, true},
            {true, 128, 1, 1, 129, 65, 128, 64, 2, false},
        };
        for (const auto& c : cases)
            for (int late = 0; late < 2; ++late) {
                if (c.blockQ)
                    std::snprintf(what, sizeof what, "fa2 sparse D=%d B=%d H=%d Lq=%d Lk=%d blocks %dx%d keep %d%s copies %s",
                                  c.D, c.B, c.H, c.Lq, c.Lk, c.blockQ, c.blockK, c.keep, c.invalid ? " (+invalid)" : "",
                                  late ? "late " : "early");
                else
                    std::snprintf(what, sizeof what, "fa2 dense D=%d B=%d H=%d Lq=%d Lk=%d copies %s", c.D, c.B, c.H, c.Lq,
                                  c.Lk, late ? "late " : "early");
                report(c.bf16, run_fa2(c.bf16, c.D, c.B, c.H, c.Lq, c.Lk, c.blockQ, c.blockK, c.keep, c.invalid, late,
                                       4321 + c.Lq + c.Lk), what);
            }
    }
    return failed ? 1 : 0;
}
