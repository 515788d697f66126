// CPU emulation of SLA's CUDA kernels (driven by emulate_sla.py, which extracts the kernel sources
// into sla_map_extract.inc and sla_linear_extract.inc): the block map must equal a transcription
// of the CPU backend's algorithm bit for bit; the fused linear branch is compared with a double
// precision reference rounded at the reference's points.
#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>
#include "emulator_scalar.h"
struct Dim3 { unsigned x = 0, y = 0, z = 0; };
thread_local Dim3 threadIdx, blockIdx;
Dim3 gridDim, blockDim;
#define __CUDA_ARCH__ 900
static int __ffs(u32 x) { return x ? __builtin_ctz(x) + 1 : 0; }
static u32 atomicAdd(u32* p, u32 v) { return std::atomic_ref<u32>(*p).fetch_add(v); }
// Dynamic shared memory of the running thread block (filled with garbage before each block).
alignas(16) static unsigned char emu_smem[1 << 20];

// Per-warp exchange slots: each lane writes, the warp meets, each lane reads, the warp meets again.
struct Warp {
    u32 a[32][4], b[32][2];
    u64 val[32];
    int vote[32];
    std::barrier<> bar{32};
};
static std::barrier<>* block_barrier;
static Warp* warps;
static void __syncthreads() { block_barrier->arrive_and_wait(); }
template <class T>
static T __shfl_up_sync(unsigned, T v, int o) {
    Warp& w = warps[threadIdx.x >> 5]; int lane = threadIdx.x & 31;
    u64 bits = 0; std::memcpy(&bits, &v, sizeof(T)); w.val[lane] = bits;
    w.bar.arrive_and_wait();
    u64 r = w.val[lane >= o ? lane - o : lane];
    w.bar.arrive_and_wait();
    T out; std::memcpy(&out, &r, sizeof(T)); return out;
}
static u32 __ballot_sync(unsigned, int pred) {
    Warp& w = warps[threadIdx.x >> 5]; int lane = threadIdx.x & 31;
    w.vote[lane] = pred ? 1 : 0;
    w.bar.arrive_and_wait();
    u32 m = 0; for (int i = 0; i < 32; ++i) if (w.vote[i]) m |= 1u << i;
    w.bar.arrive_and_wait();
    return m;
}
// cp.async: shared addresses are byte offsets into emu_smem; a copy lands at issue, or with
// late_copies only when a wait covers its group.
struct Copy { u32 dst; const void* src; u32 bytes; };
static bool late_copies = false;
thread_local std::vector<Copy> open_group;
thread_local std::vector<std::vector<Copy>> pending;
static void land(const Copy& c) { if (c.bytes) std::memcpy(emu_smem + c.dst, c.src, 16); else std::memset(emu_smem + c.dst, 0, 16); }
static void emu_cp_async16(u32 dst, const void* src, u32 bytes) { if (late_copies) open_group.push_back({dst, src, bytes}); else land({dst, src, bytes}); }
static void emu_cp_commit() { pending.push_back(open_group); open_group.clear(); }
static void emu_cp_wait(int n) { while ((int)pending.size() > n) { for (auto& c : pending.front()) land(c); pending.erase(pending.begin()); } }
static float __shfl_xor_sync(unsigned, float v, int m) {
    Warp& w = warps[threadIdx.x >> 5]; int lane = threadIdx.x & 31;
    w.val[lane] = float_bits(v);
    w.bar.arrive_and_wait();
    float r = bits_float((u32)w.val[lane ^ m]);
    w.bar.arrive_and_wait();
    return r;
}
static float frag_half(u32 r, int h, bool bf16) { u16 x = h ? (u16)(r >> 16) : (u16)r; return bf16 ? bf16_to_float(x) : half_to_float(x); }
// mma.m16n8k16 (row.col, fp32 accumulation) from the PTX ISA's fragment layouts: A[m][k] is in lane
// 4·(m%8) + (k%8)/2, register (m ≥ 8) + 2·(k ≥ 8), half k%2; B[k][n] in lane 4n + (k%8)/2, register
// (k ≥ 8), half k%2; lane 4g + t holds C[g][2t], C[g][2t+1], C[g+8][2t], C[g+8][2t+1].
template <bool BF16>
static void emu_mma(float* c, const u32* a, u32 b0, u32 b1) {
    Warp& w = warps[threadIdx.x >> 5]; int lane = threadIdx.x & 31;
    for (int i = 0; i < 4; ++i) w.a[lane][i] = a[i];
    w.b[lane][0] = b0; w.b[lane][1] = b1;
    w.bar.arrive_and_wait();
    const int g = lane >> 2, t = lane & 3;
    auto A = [&](int m, int k) { return frag_half(w.a[(m % 8) * 4 + (k % 8) / 2][(m >= 8) + 2 * (k >= 8)], k % 2, BF16); };
    auto B = [&](int k, int n) { return frag_half(w.b[n * 4 + (k % 8) / 2][k >= 8], k % 2, BF16); };
    for (int e = 0; e < 4; ++e) {
        const int m = g + (e >= 2 ? 8 : 0), n = 2 * t + (e & 1);
        float s = c[e];
        for (int k = 0; k < 16; ++k) s += A(m, k) * B(k, n);
        c[e] = s;
    }
    w.bar.arrive_and_wait();
}

#include "sla_map_extract.inc"
#include "sla_linear_extract.inc"

template <class F>
static void run_grid(Dim3 grid, int threads, F f) {
    gridDim = grid; blockDim = {(unsigned)threads, 1, 1};
    for (unsigned z = 0; z < grid.z; ++z) for (unsigned y = 0; y < grid.y; ++y) for (unsigned x = 0; x < grid.x; ++x) {
        std::barrier<> bar(threads);
        block_barrier = &bar;
        std::vector<Warp> ws(threads / 32);
        warps = ws.data();
        std::memset(emu_smem, 0xA5, sizeof emu_smem);   // garbage in shared memory
        std::vector<std::thread> ts;
        for (int i = 0; i < threads; ++i) ts.emplace_back([&, i] { threadIdx = {(unsigned)i, 0, 0}; blockIdx = {x, y, z}; f(); });
        for (auto& t : ts) t.join();
    }
}

// CPU transcription (BackendCPU/SparseAttention.swift), on dense per-head f32 copies.
static std::vector<int> cpu_map(const std::vector<float>& q, const std::vector<float>& k, int H, int lq, int lk, int d,
                                int bq, int bk, int keep) {
    int mq = (lq + bq - 1) / bq, mk = (lk + bk - 1) / bk;
    std::vector<int> out(H * mq * keep);
    for (int h = 0; h < H; ++h) {
        const float* qh = &q[(size_t)h * lq * d]; const float* kh = &k[(size_t)h * lk * d];
        std::vector<float> km(d, 0);
        for (int t = 0; t < lk; ++t) for (int c = 0; c < d; ++c) km[c] += kh[t * d + c];
        for (int c = 0; c < d; ++c) km[c] /= (float)lk;
        auto pooled = [&](const float* base, int len, int blk, int nb, const float* shift) {
            std::vector<float> r(nb * d, 0);
            for (int b = 0; b < nb; ++b) { int t0 = b * blk, t1 = std::min(len, t0 + blk);
                for (int t = t0; t < t1; ++t) for (int c = 0; c < d; ++c) r[b * d + c] += base[t * d + c] - (shift ? shift[c] : 0.0f);
                for (int c = 0; c < d; ++c) r[b * d + c] /= (float)(t1 - t0); }
            return r; };
        auto pq = pooled(qh, lq, bq, mq, nullptr), pk = pooled(kh, lk, bk, mk, km.data());
        for (int i = 0; i < mq; ++i) {
            std::vector<std::pair<float, int>> sc(mk);
            for (int j = 0; j < mk; ++j) { float s = 0; for (int c = 0; c < d; ++c) s += pq[i * d + c] * pk[j * d + c]; sc[j] = {s, j}; }
            std::sort(sc.begin(), sc.end(), [](auto a, auto b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
            std::vector<int> ch; for (int n = 0; n < keep; ++n) ch.push_back(sc[n].second);
            std::sort(ch.begin(), ch.end());
            for (int n = 0; n < keep; ++n) out[(h * mq + i) * keep + n] = ch[n];
        }
    }
    return out;
}

static int test_map(int H, int L, int d, int bq, int bk, int keep, bool bf16, bool ties, bool async) {
    std::mt19937 gen(11);
    std::uniform_real_distribution<float> U(-1, 1);
    std::vector<u16> q((size_t)L * H * d), k((size_t)L * H * d);
    for (auto& e : q) e = bf16 ? float_to_bf16(U(gen)) : float_to_half(U(gen));
    for (size_t i = 0; i < k.size(); ++i) {
        size_t t = i / (H * d);
        if (ties) { size_t src = (t % bk) * H * d + i % (H * d); k[i] = i == src ? (bf16 ? float_to_bf16(U(gen)) : float_to_half(U(gen))) : k[src]; }
        else k[i] = bf16 ? float_to_bf16(U(gen)) : float_to_half(U(gen));
    }
    int dt = bf16 ? DT_BF16 : DT_F16;
    auto wid = [&](u16 x) { return bf16 ? bf16_to_float(x) : half_to_float(x); };
    std::vector<float> qd((size_t)H * L * d), kd((size_t)H * L * d);
    for (int h = 0; h < H; ++h) for (int t = 0; t < L; ++t) for (int c = 0; c < d; ++c) {
        qd[((size_t)h * L + t) * d + c] = wid(q[(size_t)t * H * d + h * d + c]);
        kd[((size_t)h * L + t) * d + c] = wid(k[(size_t)t * H * d + h * d + c]);
    }
    const i64 sb = 0, sh = d, st = (i64)H * d, sc = 1;
    int mq = (L + bq - 1) / bq, mk = (L + bk - 1) / bk;
    std::vector<float> mean(H * d, NAN);
    if (async) run_grid({(unsigned)(d / 32), (unsigned)H, 1}, 256, [&] { td_sla_key_mean_async(mean.data(), k.data(), dt, sb, sh, st, H, L); });
    else run_grid({(unsigned)((d + 31) / 32), (unsigned)H, 1}, 256, [&] { td_sla_key_mean_staged(mean.data(), k.data(), dt, sb, sh, st, sc, H, L, d); });
    std::vector<float> pq(H * mq * d, NAN), pkT(H * d * mk, NAN);
    run_grid({7, 1, 1}, 256, [&] { td_sla_pool(pq.data(), q.data(), dt, sb, sh, st, sc, H, H, L, d, bq, mq, nullptr, 0); });
    run_grid({7, 1, 1}, 256, [&] { td_sla_pool(pkT.data(), k.data(), dt, sb, sh, st, sc, H, H, L, d, bk, mk, mean.data(), 1); });
    int rows = 8;
    while (rows > 1 && (rows * (mk + d) + 290) * 4 > 160 * 1024) --rows;
    std::vector<int> out(H * mq * keep, -1);
    run_grid({(unsigned)((mq + rows - 1) / rows), (unsigned)H, 1}, 256, [&] { td_sla_topk(out.data(), pq.data(), pkT.data(), mq, mk, d, keep, rows); });
    auto ref = cpu_map(qd, kd, H, L, L, d, bq, bk, keep);
    // the mean itself, bit for bit
    int mean_bad = 0;
    for (int h = 0; h < H; ++h) for (int c = 0; c < d; ++c) {
        float s = 0; for (int t = 0; t < L; ++t) s += kd[((size_t)h * L + t) * d + c];
        if (float_bits(s / (float)L) != float_bits(mean[h * d + c])) ++mean_bad;
    }
    int bad = 0; for (size_t i = 0; i < out.size(); ++i) bad += out[i] != ref[i];
    printf("H=%d L=%d d=%d blocks %d/%d keep %d %s%s %s: mean mismatches %d, map mismatches %d of %zu (late copies %d)\n", H, L, d, bq, bk, keep,
           bf16 ? "bf16" : "f16", ties ? " ties" : "", async ? "async" : "staged", mean_bad, bad, out.size(), late_copies);
    return mean_bad || bad;
}

template <bool BF16, int D>
static int test_linear(int L, int H, int chunk_tokens) {
    auto rnd = [](u16 x) { return BF16 ? bf16_to_float(x) : half_to_float(x); };
    auto rt = [](float f) { return BF16 ? float_to_bf16(f) : float_to_half(f); };
    auto rf = [&](float f) { return rnd(rt(f)); };
    std::mt19937 gen(7);
    std::uniform_real_distribution<float> U(-3, 3);
    std::vector<u16> q(L * H * D), k(L * H * D), v(L * H * D);
    for (auto* x : {&q, &k, &v}) for (auto& e : *x) e = rt(U(gen));
    const i64 st = H * D, sh = D;
    int chunks = (L + chunk_tokens - 1) / chunk_tokens;
    std::vector<float> partial((size_t)H * chunks * (D * D + D), NAN);
    run_grid({(unsigned)chunks, (unsigned)H, 1}, 2 * D, [&] {
        if constexpr (BF16) { if (D == 64) td_sla_linear_state_bf16_d64(partial.data(), k.data(), v.data(), 0, sh, st, 0, sh, st, L, chunk_tokens);
                              else td_sla_linear_state_bf16_d128(partial.data(), k.data(), v.data(), 0, sh, st, 0, sh, st, L, chunk_tokens); }
        else { if (D == 64) td_sla_linear_state_f16_d64(partial.data(), k.data(), v.data(), 0, sh, st, 0, sh, st, L, chunk_tokens);
               else td_sla_linear_state_f16_d128(partial.data(), k.data(), v.data(), 0, sh, st, 0, sh, st, L, chunk_tokens); }
    });
    std::vector<u16> kv(H * D * D), ks(H * D);
    gridDim = {1, 1, 1}; blockDim = {1, 1, 1}; threadIdx = {0, 0, 0}; blockIdx = {0, 0, 0};
    td_sla_linear_state_reduce(kv.data(), ks.data(), partial.data(), H, chunks, D, D, BF16 ? 1 : 0);
    // reference state
    double worst_kv = 0, worst_ks = 0; int flips = 0;
    std::vector<float> phik((size_t)L * D);
    std::vector<u16> kv_ref(H * D * D), ks_ref(H * D);
    for (int h = 0; h < H; ++h) {
        for (int t = 0; t < L; ++t) {
            float m = -INFINITY; for (int c = 0; c < D; ++c) m = std::max(m, rnd(k[t * st + h * sh + c]));
            float e[D]; float s = 0; for (int c = 0; c < D; ++c) { e[c] = std::exp(rnd(k[t * st + h * sh + c]) - m); s += e[c]; }
            float inv = 1.0f / s; for (int c = 0; c < D; ++c) phik[t * D + c] = rf(e[c] * inv);
        }
        for (int c = 0; c < D; ++c) {
            double sum = 0; for (int t = 0; t < L; ++t) sum += phik[t * D + c];
            ks_ref[h * D + c] = rt((float)sum);
            double got = rnd(ks[h * D + c]);
            worst_ks = std::max(worst_ks, std::fabs(got - sum) / std::fabs(sum));
            for (int n = 0; n < D; ++n) {
                double a = 0, mag = 0; for (int t = 0; t < L; ++t) { a += (double)phik[t * D + c] * rnd(v[t * st + h * sh + n]); mag += std::fabs((double)phik[t * D + c] * rnd(v[t * st + h * sh + n])); }
                kv_ref[(h * D + c) * D + n] = rt((float)a);
                double g2 = rnd(kv[(h * D + c) * D + n]);
                worst_kv = std::max(worst_kv, std::fabs(g2 - a) / mag);
                if (kv[(h * D + c) * D + n] != kv_ref[(h * D + c) * D + n]) ++flips;
            }
        }
    }
    // apply with the kernel's own state (tests apply on its own)
    std::vector<u16> out((size_t)H * L * D, 0xFFFF);
    run_grid({(unsigned)((L + SL_ROWS - 1) / SL_ROWS), (unsigned)H, 1}, 256, [&] {
        if constexpr (BF16) { if (D == 64) td_sla_linear_apply_bf16_d64(out.data(), q.data(), kv.data(), ks.data(), 0, sh, st, L);
                              else td_sla_linear_apply_bf16_d128(out.data(), q.data(), kv.data(), ks.data(), 0, sh, st, L); }
        else { if (D == 64) td_sla_linear_apply_f16_d64(out.data(), q.data(), kv.data(), ks.data(), 0, sh, st, L);
               else td_sla_linear_apply_f16_d128(out.data(), q.data(), kv.data(), ks.data(), 0, sh, st, L); }
    });
    double worst_o = 0; int oflips = 0; double num2 = 0, den2 = 0;
    for (int h = 0; h < H; ++h) for (int t = 0; t < L; ++t) {
        float m = -INFINITY; for (int c = 0; c < D; ++c) m = std::max(m, rnd(q[t * st + h * sh + c]));
        float e[D], phi[D]; float s = 0; for (int c = 0; c < D; ++c) { e[c] = std::exp(rnd(q[t * st + h * sh + c]) - m); s += e[c]; }
        float inv = 1.0f / s; for (int c = 0; c < D; ++c) phi[c] = rf(e[c] * inv);
        double dsum = 0; for (int c = 0; c < D; ++c) dsum += rf(phi[c] * rnd(ks[h * D + c]));
        float den = rf(rf((float)dsum) + 1e-5f);
        for (int n = 0; n < D; ++n) {
            double a = 0; for (int c = 0; c < D; ++c) a += (double)phi[c] * rnd(kv[(h * D + c) * D + n]);
            float ref = rf(rf((float)a) / den);
            float got = rnd(out[((size_t)h * L + t) * D + n]);
            if (rt(ref) != out[((size_t)h * L + t) * D + n]) ++oflips;
            num2 += (got - ref) * (double)(got - ref); den2 += (double)ref * ref;
            worst_o = std::max(worst_o, (double)std::fabs(got - ref) / std::max(1e-30, (double)std::fabs(ref)));
        }
    }
    printf("%s D=%d L=%d H=%d chunk=%d: ksum rel %.3g, kv err/mag %.3g (rounding flips %d of %d); apply rel %.3g nmse %.3g flips %d of %d\n",
           BF16 ? "bf16" : "f16", D, L, H, chunk_tokens, worst_ks, worst_kv, flips, H * D * D, worst_o, num2 / den2, oflips, H * L * D);
    return (worst_ks < 1e-2 && worst_kv < 1e-2 && num2 / den2 < 1e-4) ? 0 : 1;
}

int main() {
    int bad = 0;
    for (int late = 0; late < 2; ++late) {
        late_copies = late;
        bad |= test_map(2, 1000, 64, 128, 64, 3, true, false, true);
        bad |= test_map(1, 2500, 128, 64, 16, 40, false, false, true);
        bad |= test_map(2, 700, 64, 64, 64, 4, true, true, true);
    }
    for (int keep : {1, 2, 5, 17, 64, 100, 128, 200, 255, 256}) bad |= test_map(1, 2048, 32, 256, 8, keep, true, false, true);
    for (int keep : {1, 3, 31, 200}) bad |= test_map(1, 2048, 32, 256, 8, keep, false, true, true);
    bad |= test_map(2, 1000, 64, 128, 64, 3, true, false, false);
    bad |= test_map(1, 300, 96, 32, 32, 2, true, true, false);
    late_copies = false;
    bad |= test_linear<true, 64>(300, 2, 128);
    bad |= test_linear<true, 128>(200, 2, 64);
    bad |= test_linear<false, 128>(333, 1, 192);
    bad |= test_linear<false, 64>(77, 3, 64);
    printf(bad ? "FAIL\n" : "OK\n");
    return bad;
}
