// conv3d as an implicit GEMM on tensor cores (mma.sync m16n8k16, ldmatrix, cp.async), bf16/f16
// operands, fp32 accumulation; sm_80+ (empty bodies below). Compiled after flash_attention.cu,
// whose fa2_* primitives it uses. Host side: CUDABackend+ImplicitConvolution.swift.
//
// Operands are first brought into K-contiguous layouts (two cheap copies, 1/27 of im2col's traffic
// for a 3×3×3 kernel):
//   xcl [N][T][H][W][Cp]      the input, channels last, channels zero padded to Cp (a multiple of 32)
//   wp  [O][taps][Cp]         the weight, tap-major, channels zero padded; tap = (dt·kh + dh)·kw + dw
// Then out[n, o, p] = Σ_tap Σ_c wp[o, tap, c] · xcl[n, z(p)+dt, y(p)+dh, x(p)+dw, c] (+ bias[o]),
// p = (oz·Ho + oy)·Wo + ox, z(p) = oz·st − pt and so on; taps that fall into the zero padding read
// zeros (cp.async with 0 source bytes). Each output is the fp32 sum of its K = taps·C products plus
// the bias, rounded once to out_dt, as the im2col path's GEMM + epilogue.
//
// Tiles: BM = 32·MT output channels (MT ∈ 1…4, chosen by the host to waste the fewest rows: 96
// channels run as one 96-row tile, not three quarters of a 128-row one) × 128 positions per thread
// block, K in steps of 32 channels of one tap. 8 warps as 2 (channels) × 4 (positions), each
// 16·MT × 32: MT × 4 mma tiles per k16 step.
// Shared memory per stage: A [BM][32] then B [128][32] u16, rows of 64 bytes whose four 16-byte
// chunks are XOR-swizzled by (row >> 1) & 3, so the eight rows of every ldmatrix 8×8 matrix and
// every warp's cp.async stores hit distinct banks. A pipeline stage holds CG_KSUB such K steps
// (sub-tiles [A | B] one after the other); CG_STAGES stages, one cp.async group and one barrier
// per stage.

#define CG_BN 128
#define CG_BK 32
#ifndef CG_KSUB
// 32-channel K steps per pipeline stage (one barrier per stage). A K step past the end is zero filled.
#define CG_KSUB 2
#endif
#ifndef CG_STAGES
#define CG_STAGES 3
#endif
#define CG_THREADS 256
#define CG_ROW_BYTES (CG_BK * 2)

// Byte offset of 16-byte chunk `chunk` (0…3) of row `row` inside one [128][32] u16 tile.
__device__ __forceinline__ u32 cg_swizzle(int row, int chunk) {
    return (u32)(row * 64 + ((chunk ^ ((row >> 1) & 3)) << 4));
}

template <bool BF16, int MT>
__device__ __forceinline__ void cg_conv_body(void* out, int out_dt, const u16* xcl, const u16* wp, const float* bias,
                                             int O, int Cp, int T, int H, int W, int kt, int kh, int kw,
                                             int st, int sh, int sw, int pt, int ph, int pw, int Ho, int Wo, i64 P) {
#if __CUDA_ARCH__ >= 800
    constexpr int BM = 32 * MT;
    constexpr u32 A_BYTES = BM * CG_ROW_BYTES, SUB_BYTES = (BM + CG_BN) * CG_ROW_BYTES, STAGE_BYTES = CG_KSUB * SUB_BYTES;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp >> 2, wn = warp & 3;
    const i64 p_base = (i64)blockIdx.x * CG_BN;
    const int o_base = blockIdx.y * BM;
    const int n = blockIdx.z;
    const int taps = kt * kh * kw, cblocks = Cp / CG_BK, ksteps = taps * cblocks;
    const int iterations = (ksteps + CG_KSUB - 1) / CG_KSUB;
    const i64 hw = (i64)Ho * Wo;
    const u16* x_batch = xcl + (i64)n * T * H * W * Cp;

    // This thread's two load rows (r and r + 64) and 16-byte chunk, the same in A (rows < BM) and B.
    const int load_row = tid >> 2, load_chunk = tid & 3;
    int bz[2], by[2], bx[2];
    bool b_valid[2], a_valid[2];
#pragma unroll
    for (int j = 0; j < 2; ++j) {
        const int r = load_row + 64 * j;
        const i64 p = p_base + r;
        b_valid[j] = p < P;
        const i64 pz = b_valid[j] ? p / hw : 0, rem = b_valid[j] ? p - pz * hw : 0;
        const i64 py = rem / Wo, px = rem - py * Wo;
        bz[j] = (int)pz * st - pt;
        by[j] = (int)py * sh - ph;
        bx[j] = (int)px * sw - pw;
        a_valid[j] = r < BM && o_base + r < O;
    }

    const u32 smem = fa2_smem_base();
    auto load_stage = [&](int it, int stage) {
#pragma unroll
        for (int sub = 0; sub < CG_KSUB; ++sub) {
            const int step = it * CG_KSUB + sub;
            const bool real = step < ksteps;   // else zeros in A and B: the mma adds nothing
            const int tap = real ? step / cblocks : 0, c0 = (step - tap * cblocks) * CG_BK + load_chunk * 8;
            const int dw = tap % kw, dh = (tap / kw) % kh, dt = tap / (kw * kh);
            const u32 a_tile = smem + stage * STAGE_BYTES + sub * SUB_BYTES, b_tile = a_tile + A_BYTES;
#pragma unroll
            for (int j = 0; j < 2; ++j) {
                const int r = load_row + 64 * j;
                if (r < BM) {
                    const bool a_in = real && a_valid[j];
                    const u16* a_src = wp + ((i64)(o_base + r) * taps + tap) * Cp + c0;
                    fa2_cp_async16(a_tile + cg_swizzle(r, load_chunk), a_in ? a_src : wp, a_in ? 16u : 0u);
                }
                const int z = bz[j] + dt, y = by[j] + dh, x = bx[j] + dw;
                const bool inside = real && b_valid[j] && z >= 0 && z < T && y >= 0 && y < H && x >= 0 && x < W;
                const u16* b_src = x_batch + (((i64)z * H + y) * W + x) * Cp + c0;
#if defined(CG_INPUT_CA)
                asm volatile("cp.async.ca.shared.global [%0], [%1], 16, %2;" ::"r"(b_tile + cg_swizzle(r, load_chunk)),
                             "l"(inside ? b_src : xcl), "r"(inside ? 16u : 0u) : "memory");
#else
                fa2_cp_async16(b_tile + cg_swizzle(r, load_chunk), inside ? b_src : xcl, inside ? 16u : 0u);
#endif
            }
        }
    };

    float acc[MT][4][4];
#pragma unroll
    for (int i = 0; i < MT; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;

#pragma unroll
    for (int s = 0; s < CG_STAGES - 1; ++s) {
        if (s < iterations) load_stage(s, s);
        fa2_commit();
    }

    // ldmatrix lane rows: A matrix i = rows 8(i&1).., k chunk (i>>1); B matrix i = rows 8(i>>1).., k chunk (i&1).
    const int a_row = wm * 16 * MT + (lane & 7) + 8 * ((lane >> 3) & 1), a_chunk = lane >> 4;
    const int b_row = wn * 32 + (lane & 7) + 8 * (lane >> 4), b_chunk = (lane >> 3) & 1;

    for (int it = 0; it < iterations; ++it) {
        fa2_wait<CG_STAGES - 2>();
        __syncthreads();  // stage it landed for every thread; stage it − 1 is free for all warps
        const int next = it + CG_STAGES - 1;
        if (next < iterations) load_stage(next, next % CG_STAGES);
        fa2_commit();

#pragma unroll
        for (int sub = 0; sub < CG_KSUB; ++sub)
#pragma unroll
        for (int kk = 0; kk < 2; ++kk) {
            const u32 a_tile = smem + (it % CG_STAGES) * STAGE_BYTES + sub * SUB_BYTES, b_tile = a_tile + A_BYTES;
            u32 a[MT][4], b[2][4];
#pragma unroll
            for (int mi = 0; mi < MT; ++mi) fa2_ldmatrix(a[mi], a_tile + cg_swizzle(a_row + 16 * mi, 2 * kk + a_chunk));
#pragma unroll
            for (int nj = 0; nj < 2; ++nj) fa2_ldmatrix(b[nj], b_tile + cg_swizzle(b_row + 16 * nj, 2 * kk + b_chunk));
#pragma unroll
            for (int mi = 0; mi < MT; ++mi)
#pragma unroll
                for (int nj = 0; nj < 2; ++nj) {
                    fa2_mma<BF16>(acc[mi][2 * nj], a[mi], b[nj][0], b[nj][1]);
                    fa2_mma<BF16>(acc[mi][2 * nj + 1], a[mi], b[nj][2], b[nj][3]);
                }
        }
    }
    fa2_wait<0>();

    // C fragment: c0, c1 at (row g, cols 2t, 2t+1), c2, c3 at row g + 8.
    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int mi = 0; mi < MT; ++mi)
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            const int o = o_base + wm * 16 * MT + mi * 16 + g + 8 * half;
            if (o >= O) continue;
            const float b = bias ? bias[o] : 0.0f;
            const i64 row = ((i64)n * O + o) * P;
#pragma unroll
            for (int ni = 0; ni < 4; ++ni) {
                const i64 p = p_base + wn * 32 + ni * 8 + 2 * t;
                if (p < P) store_float(out, row + p, out_dt, acc[mi][ni][2 * half] + b);
                if (p + 1 < P) store_float(out, row + p + 1, out_dt, acc[mi][ni][2 * half + 1] + b);
            }
        }
#endif
}

// td_conv_igemm_<t>_m<MT>. Launch: grid (ceil(P / 128), ceil(O / (32·MT)), N), block 256, dynamic
// shared memory CG_STAGES · CG_KSUB · (32·MT + 128) · 64 bytes (CUDABackend.implicitTile repeats the
// two defaults; scripts/cuda/bench_conv.py compiles other values to compare them). Cp a multiple of 32; xcl, wp 16-byte aligned
// (dense buffers from the two kernels below).
#define CG_CONV_KERNEL(NAME, BF16, MT)                                                                                 \
    extern "C" __global__ void __launch_bounds__(CG_THREADS, 2) NAME(                                                   \
        void* out, int out_dt, const u16* xcl, const u16* wp, const float* bias, int O, int Cp, int T, int H, int W,    \
        int kt, int kh, int kw, int st, int sh, int sw, int pt, int ph, int pw, int Ho, int Wo, i64 P) {                \
        cg_conv_body<BF16, MT>(out, out_dt, xcl, wp, bias, O, Cp, T, H, W, kt, kh, kw, st, sh, sw, pt, ph, pw, Ho, Wo, P); \
    }
CG_CONV_KERNEL(td_conv_igemm_bf16_m1, true, 1)
CG_CONV_KERNEL(td_conv_igemm_bf16_m2, true, 2)
CG_CONV_KERNEL(td_conv_igemm_bf16_m3, true, 3)
CG_CONV_KERNEL(td_conv_igemm_bf16_m4, true, 4)
CG_CONV_KERNEL(td_conv_igemm_f16_m1, false, 1)
CG_CONV_KERNEL(td_conv_igemm_f16_m2, false, 2)
CG_CONV_KERNEL(td_conv_igemm_f16_m3, false, 3)
CG_CONV_KERNEL(td_conv_igemm_f16_m4, false, 4)

// x (any strided view of 16-bit elements, batch item blockIdx.y) → xcl[n][z][y][x][Cp], channels ≥ C
// zero. Thread = (8-channel group, position), positions fastest so a warp's reads of one channel are
// consecutive along W; each thread writes one 16-byte chunk. Grid-stride over S·Cp/8 (S = T·H·W).
extern "C" __global__ void td_conv_channels_last(u16* xcl, const u16* x, i64 x_off, i64 xs_n, i64 xs_c, i64 xs_t,
                                                 i64 xs_h, i64 xs_w, int C, int Cp, int T, int H, int W) {
    const i64 S = (i64)T * H * W, groups = Cp / 8, total = S * groups;
    const int n = blockIdx.y;
    const u16* xb = x + x_off + (i64)n * xs_n;
    u16* ob = xcl + (i64)n * S * Cp;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x) {
        const i64 s = i % S, grp = i / S;
        const i64 z = s / ((i64)H * W), rem = s - z * H * W, y = rem / W, xx = rem - y * W;
        const u16* src = xb + z * xs_t + y * xs_h + xx * xs_w;
        u32 packed[4];
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int c = (int)grp * 8 + 2 * e;
            const u32 lo = c < C ? src[c * xs_c] : 0u, hi = c + 1 < C ? src[(c + 1) * xs_c] : 0u;
            packed[e] = lo | (hi << 16);
        }
        uint4 v;
        v.x = packed[0]; v.y = packed[1]; v.z = packed[2]; v.w = packed[3];
        *(uint4*)(ob + s * Cp + grp * 8) = v;
    }
}

// The same copy for a view whose positions are one contiguous run per channel (x[c·xs_c + s], s < S;
// the common case: a dense tensor or a frame range of one), as a tiled transpose: a block stages
// 64 positions × 32 channels in shared memory, reading each channel's 64 positions as two 64-byte
// warp loads and writing each position's 32 channels as four 16-byte chunks. The per-element index
// arithmetic of the strided copy (three 64-bit divisions per chunk) made that one run at ~0.4 TB/s.
// Grid (⌈S/64⌉, Cp/32); Cp is a multiple of 32.
extern "C" __global__ void __launch_bounds__(256) td_conv_channels_last_runs(u16* xcl, const u16* x, i64 x_off, i64 xs_c,
                                                                            int C, int Cp, i64 S) {
    __shared__ u16 tile[32][64 + 2];
    const i64 s0 = (i64)blockIdx.x * 64;
    const int c0 = blockIdx.y * 32;
    const u16* xb = x + x_off;
    const int tp = threadIdx.x & 63, tc = threadIdx.x >> 6;
#pragma unroll
    for (int k = 0; k < 8; ++k) {
        const int c = tc + 4 * k, cc = c0 + c;
        const i64 s = s0 + tp;
        tile[c][tp] = (cc < C && s < S) ? xb[(i64)cc * xs_c + s] : (u16)0;
    }
    __syncthreads();
    const int p = threadIdx.x >> 2, q = threadIdx.x & 3;
    const i64 s = s0 + p;
    if (s < S) {
        u32 packed[4];
#pragma unroll
        for (int e = 0; e < 4; ++e)
            packed[e] = (u32)tile[q * 8 + 2 * e][p] | ((u32)tile[q * 8 + 2 * e + 1][p] << 16);
        uint4 v;
        v.x = packed[0]; v.y = packed[1]; v.z = packed[2]; v.w = packed[3];
        *(uint4*)(xcl + s * Cp + c0 + q * 8) = v;
    }
}

// w (any strided view [O, C, kt, kh, kw] of 16-bit elements) → wp[o][tap][Cp], channels ≥ C zero.
// One thread per destination element (grid-stride; the weights are small).
extern "C" __global__ void td_conv_pack_weight(u16* wp, const u16* w, i64 w_off, i64 ws_o, i64 ws_c, i64 ws_t, i64 ws_h,
                                               i64 ws_w, int O, int C, int Cp, int kt, int kh, int kw) {
    const int taps = kt * kh * kw;
    const i64 total = (i64)O * taps * Cp;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x) {
        const int c = (int)(i % Cp);
        const i64 r = i / Cp;
        const int tap = (int)(r % taps), o = (int)(r / taps);
        const int dw = tap % kw, dh = (tap / kw) % kh, dt = tap / (kw * kh);
        wp[i] = c < C ? w[w_off + o * ws_o + c * ws_c + dt * ws_t + dh * ws_h + dw * ws_w] : (u16)0;
    }
}
