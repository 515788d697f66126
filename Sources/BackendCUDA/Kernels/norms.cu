// Normalisations and rotary embedding, fp32 statistics, results rounded to the input dtype.
// Where the CPU oracle's expression is reproduced operation by operation, the `__f*_rn`
// intrinsics keep NVRTC from contracting a·b + c into an FMA, so f32 results agree with the
// CPU bit for bit whenever the statistics do (l2Norm and rotary always; the row norms up to
// their fp32-vs-double statistics).

// Four consecutive elements from element index i: 16-byte aligned for f32, 8-byte for bf16/f16.
__device__ __forceinline__ void load4(const void* p, i64 i, int dt, float v[4]) {
    if (dt == DT_F32) {
        const float4 q = *(const float4*)((const float*)p + i);
        v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
    } else {
        const uint2 q = *(const uint2*)((const u16*)p + i);
        const u16 h[4] = {(u16)(q.x & 0xffffu), (u16)(q.x >> 16), (u16)(q.y & 0xffffu), (u16)(q.y >> 16)};
#pragma unroll
        for (int k = 0; k < 4; ++k) v[k] = dt == DT_BF16 ? bf16_to_float(h[k]) : half_to_float(h[k]);
    }
}

__device__ __forceinline__ void store4(void* p, i64 i, int dt, const float v[4]) {
    if (dt == DT_F32) {
        *(float4*)((float*)p + i) = make_float4(v[0], v[1], v[2], v[3]);
    } else {
        u16 h[4];
#pragma unroll
        for (int k = 0; k < 4; ++k) h[k] = dt == DT_BF16 ? float_to_bf16(v[k]) : float_to_half(v[k]);
        *(uint2*)((u16*)p + i) = make_uint2((u32)h[0] | ((u32)h[1] << 16), (u32)h[2] | ((u32)h[3] << 16));
    }
}

// v rounded to dtype dt and back (the value a store and a reload would give).
__device__ __forceinline__ float round_to(float v, int dt) {
    if (dt == DT_BF16) return bf16_to_float(float_to_bf16(v));
    if (dt == DT_F16) return half_to_float(float_to_half(v));
    return v;
}

// Who works on one row of a row-wise norm. Block mode (`per_warp` 0): the whole block, rows
// blockIdx.x, blockIdx.x + gridDim.x, …, sums by block_sum (its barriers need every thread of the
// block in every row). Warp mode: warp w of the block takes rows blockIdx.x·(blockDim.x/32) + w,
// stepping by gridDim.x·(blockDim.x/32), sums by warp_sum (no barrier: warps may leave early), its
// own cols floats of the row cache. The butterfly of warp_sum gives every lane the same sum
// (each step adds the same two values, commutatively).
struct RowTeam {
    int per_warp;
    int lane, width;        // this thread's index in the team, the team's size
    i64 first, step;        // the team's first row and its row step

    __device__ __forceinline__ explicit RowTeam(int warp_mode) : per_warp(warp_mode) {
        const int warps = blockDim.x >> 5;
        lane = per_warp ? threadIdx.x & 31 : threadIdx.x;
        width = per_warp ? 32 : blockDim.x;
        first = per_warp ? (i64)blockIdx.x * warps + (threadIdx.x >> 5) : blockIdx.x;
        step = per_warp ? (i64)gridDim.x * warps : gridDim.x;
    }
    __device__ __forceinline__ float sum(float v, float* scratch) const { return per_warp ? warp_sum(v) : block_sum(v, scratch); }
    // This team's row cache of cols floats (nil without one).
    __device__ __forceinline__ float* cache(float* row_cache, int cached, i64 cols) const {
        return !cached ? nullptr : per_warp ? row_cache + (threadIdx.x >> 5) * cols : row_cache;
    }
};

// One row of a row-wise norm: `cols` elements, element j of the input at xo + j·ls, worked on by a
// team (RowTeam) of `width` threads, this one being `lane`.
// `vec` (dense row, ls = 1, cols % 4 == 0, row start aligned for load4) reads groups of 4.
// With a shared-memory `cache` of cols floats, the first pass (fill = true) stores the row there and
// later passes read it back. Every pass (of every row) gives each thread the same elements, so
// the cache needs no barrier; block_sum's leading barrier protects its scratch across rows.
struct RowView {
    const void* x;
    int dt;
    i64 xo, ls, cols;
    int vec;
    float* cache;
    int lane, width;

    // Calls f(j, v) with v[0..3] = elements j..j+3 (vec) or v[0] = element j.
    template <typename F>
    __device__ __forceinline__ void groups(bool fill, F f) const {
        const bool from_cache = cache != nullptr && !fill;
        if (vec && !from_cache) {
            // Four groups' loads issued before the first is used (the loads of one group alone leave
            // the memory system idle); f still sees this thread's groups in ascending order.
            const i64 n4 = cols >> 2;
            for (i64 g0 = lane; g0 < n4; g0 += 4 * (i64)width) {
                float v[4][4];
#pragma unroll
                for (int u = 0; u < 4; ++u)
                    if (g0 + u * width < n4) load4(x, xo + 4 * (g0 + u * width), dt, v[u]);
#pragma unroll
                for (int u = 0; u < 4; ++u) {
                    const i64 g = g0 + u * width;
                    if (g >= n4) break;
                    if (cache) ((float4*)cache)[g] = make_float4(v[u][0], v[u][1], v[u][2], v[u][3]);
                    f(4 * g, v[u]);
                }
            }
        } else if (vec) {
            for (i64 g = lane; g < (cols >> 2); g += width) {
                const float4 q = ((const float4*)cache)[g];
                const float v[4] = {q.x, q.y, q.z, q.w};
                f(4 * g, v);
            }
        } else {
            for (i64 j = lane; j < cols; j += width) {
                float v[1];
                if (from_cache) {
                    v[0] = cache[j];
                } else {
                    v[0] = load_float(x, xo + j * ls, dt);
                    if (cache) cache[j] = v[0];
                }
                f(j, v);
            }
        }
    }

    // Calls f(value) for each element of this thread (constant indices only: no local memory).
    template <typename F>
    __device__ __forceinline__ void each(bool fill, F f) const {
        groups(fill, [&](i64, const float* v) {
            if (vec) {
#pragma unroll
                for (int k = 0; k < 4; ++k) f(v[k]);
            } else {
                f(v[0]);
            }
        });
    }

    // Last pass: out[oo + j] = map(j, x_j), vector stores when `vec` (out is dense).
    template <typename F>
    __device__ __forceinline__ void write(void* out, i64 oo, F map) const {
        groups(false, [&](i64 j, const float* v) {
            if (vec) {
                float y[4];
#pragma unroll
                for (int k = 0; k < 4; ++k) y[k] = map(j + k, v[k]);
                store4(out, oo + j, dt, y);
            } else {
                store_float(out, oo + j, dt, map(j, v[0]));
            }
        });
    }
};

// LayerNorm statistics of one row, two passes in fp32: the mean, then 1/√(Σ(x − mean)²/cols + eps).
// The first pass fills the row cache. Shared by td_layer_norm and modulation.cu, whose results
// must agree bit for bit.
__device__ __forceinline__ void layer_norm_stats(const RowTeam& team, const RowView& row, float* scratch, float eps,
                                                 float& mean, float& rstd) {
    float sum = 0.0f;
    row.each(true, [&](float v) { sum += v; });
    const float m = team.sum(sum, scratch) / (float)row.cols;
    float sq = 0.0f;
    row.each(false, [&](float v) {
        const float c = v - m;
        sq += c * c;
    });
    const float var = team.sum(sq, scratch) / (float)row.cols;
    mean = m;
    rstd = 1.0f / sqrtf(var + eps);
}

// LayerNorm over the last dim: a RowTeam per row (a block, or a warp with `per_warp`; grid-stride),
// blockDim a multiple of 32, at most 1024. Two passes in fp32: mean, then Σ(x − mean)²;
// y = (x − mean)·rstd·w + b. Dynamic shared memory: cols floats per team when `cached`, else none
// (the row is re-read).
extern "C" __global__ void __launch_bounds__(1024)
td_layer_norm(void* out, const void* x, int dt, Strided s, i64 ls, i64 rows, i64 cols, int vec, int cached, int per_warp,
              const void* w, int w_dt, const void* b, int b_dt, float eps) {
    __shared__ float scratch[32];
    extern __shared__ __align__(16) float row_cache[];
    const RowTeam team(per_warp);
    float* const cache = team.cache(row_cache, cached, cols);
    for (i64 r = team.first; r < rows; r += team.step) {
        const RowView row = {x, dt, strided_offset(s, r * cols), ls, cols, vec, cache, team.lane, team.width};
        float mean, rstd;
        layer_norm_stats(team, row, scratch, eps, mean, rstd);
        row.write(out, r * cols, [&](i64 j, float v) {
            float y = __fmul_rn(__fsub_rn(v, mean), rstd);
            if (w) y = __fmul_rn(y, load_float(w, j, w_dt));
            if (b) y = __fadd_rn(y, load_float(b, j, b_dt));
            return y;
        });
    }
}

// RMSNorm's scale of one row, 1/√(Σx²/cols + eps), each thread summing its elements of the
// row with fused multiply-adds and block_sum combining the threads. The first pass fills the
// row cache. Shared by td_rms_norm and td_rms_norm_rotary, whose statistics must agree bit for
// bit: that needs the same launch shape (block size, `vec` and `per_warp`: rowNormLaunch) as well.
__device__ __forceinline__ float rms_norm_scale(const RowTeam& team, const RowView& row, float* scratch, float eps) {
    float sq = 0.0f;
    row.each(true, [&](float v) { sq = __fmaf_rn(v, v, sq); });
    const float ms = team.sum(sq, scratch) / (float)row.cols;
    return 1.0f / sqrtf(ms + eps);
}

// RMSNorm's value of element j (x_j = v) before its store: rounded to the dtype once after the
// scale, then multiplied by the weight (the store rounds again).
__device__ __forceinline__ float rms_norm_value(float v, i64 j, float scale, int dt, const void* w, int w_dt) {
    float y = round_to(__fmul_rn(v, scale), dt);
    if (w) y = __fmul_rn(y, load_float(w, j, w_dt));
    return y;
}

// Wan/T5 RMSNorm over the last dim, launched like td_layer_norm:
// y = round_to_dtype(x · 1/√(mean(x²) + eps)) · w, then rounded again by the store.
extern "C" __global__ void __launch_bounds__(1024)
td_rms_norm(void* out, const void* x, int dt, Strided s, i64 ls, i64 rows, i64 cols, int vec, int cached, int per_warp,
            const void* w, int w_dt, float eps) {
    __shared__ float scratch[32];
    extern __shared__ __align__(16) float row_cache[];
    const RowTeam team(per_warp);
    float* const cache = team.cache(row_cache, cached, cols);
    for (i64 r = team.first; r < rows; r += team.step) {
        const RowView row = {x, dt, strided_offset(s, r * cols), ls, cols, vec, cache, team.lane, team.width};
        const float scale = rms_norm_scale(team, row, scratch, eps);
        row.write(out, r * cols, [&](i64 j, float v) { return rms_norm_value(v, j, scale, dt, w, w_dt); });
    }
}

// The rotated pair (a, b) → (a·cos − b·sin, a·sin + b·cos), one rounding per operation
// (td_rotary and td_rms_norm_rotary).
__device__ __forceinline__ void rotate_pair(float a, float b, float c, float sn, float& ra, float& rb) {
    ra = __fsub_rn(__fmul_rn(a, c), __fmul_rn(b, sn));
    rb = __fadd_rn(__fmul_rn(a, sn), __fmul_rn(b, c));
}

// td_rms_norm followed by td_rotary in one pass, for x [..., L, C] with C = heads·D, rows of C
// (row r has position r % L), tables [L, D/2] dense; out [..., L, heads, D] dense. Launched as
// td_rms_norm (same block size, `vec`, `per_warp` and so the same statistics); each normalised value is
// rounded to the dtype as td_rms_norm's store rounds it before it is rotated as td_rotary rotates
// a loaded pair. With `vec` a group of 4 holds two whole pairs (D even), read from the cache as
// td_rms_norm reads it; otherwise a thread takes whole pairs, re-reading x (no cache: a thread's
// pairs are not the elements it cached).
// `Col` is the type of the in-row arithmetic (j mod D): i64 in td_rms_norm_rotary; u32 in
// td_rms_norm_rotary_u32 (cols < 2³²), where the remainder is a 32-bit one instead of the 64-bit
// division routine run for every pair.
template <typename Col>
__device__ __forceinline__ void rms_norm_rotary_rows(void* out, const void* x, int dt, const Strided& s, i64 ls, i64 rows,
                                                     i64 cols, int vec, int cached, int per_warp, const void* w, int w_dt,
                                                     float eps, i64 seq, i64 half, const void* cos_t, int c_dt,
                                                     const void* sin_t, int s_dt, float* scratch, float* row_cache) {
    const Col head_dim = (Col)(2 * half);
    const RowTeam team(per_warp);
    float* const cache = team.cache(row_cache, cached, cols);
    for (i64 r = team.first; r < rows; r += team.step) {
        const i64 xo = strided_offset(s, r * cols), oo = r * cols, table_row = (r % seq) * half;
        const RowView row = {x, dt, xo, ls, cols, vec, vec ? cache : nullptr, team.lane, team.width};
        const float scale = rms_norm_scale(team, row, scratch, eps);
        // Element j (even) and j + 1 of the row: normalised, stored, reloaded, rotated.
        auto pair = [&](i64 j, float a, float b, float& ra, float& rb) {
            a = round_to(rms_norm_value(a, j, scale, dt, w, w_dt), dt);
            b = round_to(rms_norm_value(b, j + 1, scale, dt, w, w_dt), dt);
            const i64 t = table_row + (i64)(((Col)j % head_dim) / 2);
            rotate_pair(a, b, load_float(cos_t, t, c_dt), load_float(sin_t, t, s_dt), ra, rb);
        };
        if (vec) {
            row.groups(false, [&](i64 j, const float* v) {
                float y[4];
                pair(j, v[0], v[1], y[0], y[1]);
                pair(j + 2, v[2], v[3], y[2], y[3]);
                store4(out, oo + j, dt, y);
            });
        } else {
            for (i64 j = 2 * (i64)team.lane; j < cols; j += 2 * (i64)team.width) {
                float ra, rb;
                pair(j, load_float(x, xo + j * ls, dt), load_float(x, xo + (j + 1) * ls, dt), ra, rb);
                store_float(out, oo + j, dt, ra);
                store_float(out, oo + j + 1, dt, rb);
            }
        }
    }
}

extern "C" __global__ void __launch_bounds__(1024)
td_rms_norm_rotary(void* out, const void* x, int dt, Strided s, i64 ls, i64 rows, i64 cols, int vec, int cached, int per_warp,
                   const void* w, int w_dt, float eps, i64 seq, i64 half,
                   const void* cos_t, int c_dt, const void* sin_t, int s_dt) {
    __shared__ float scratch[32];
    extern __shared__ __align__(16) float row_cache[];
    rms_norm_rotary_rows<i64>(out, x, dt, s, ls, rows, cols, vec, cached, per_warp, w, w_dt, eps, seq, half,
                              cos_t, c_dt, sin_t, s_dt, scratch, row_cache);
}

extern "C" __global__ void __launch_bounds__(1024)
td_rms_norm_rotary_u32(void* out, const void* x, int dt, Strided s, i64 ls, i64 rows, i64 cols, int vec, int cached,
                       int per_warp, const void* w, int w_dt, float eps, i64 seq, i64 half,
                       const void* cos_t, int c_dt, const void* sin_t, int s_dt) {
    __shared__ float scratch[32];
    extern __shared__ __align__(16) float row_cache[];
    rms_norm_rotary_rows<u32>(out, x, dt, s, ls, rows, cols, vec, cached, per_warp, w, w_dt, eps, seq, half,
                              cos_t, c_dt, sin_t, s_dt, scratch, row_cache);
}

// The VAE's RMS_norm along a middle dim of a dense [outer, c, inner] tensor: one thread per
// (outer, inner) position (grid-stride), looping over the c channels twice, so neighbouring
// threads read neighbouring elements. y = x · 1/max(‖x‖₂, eps) · (gamma·√c) + bias, with the
// CPU's order of operations and its sequential fp32 sum over channels.
extern "C" __global__ void td_l2_norm(void* out, const void* x, int dt, i64 outer, i64 c, i64 inner,
                                      const void* g, int g_dt, const void* b, int b_dt, float eps, float root_c) {
    const i64 positions = outer * inner;
    for (i64 p = blockIdx.x * (i64)blockDim.x + threadIdx.x; p < positions; p += (i64)gridDim.x * blockDim.x) {
        const i64 o = p / inner, i = p - o * inner;
        const i64 base = o * c * inner + i;
        float sum = 0.0f;
        for (i64 ch = 0; ch < c; ++ch) {
            const float v = load_float(x, base + ch * inner, dt);
            sum = __fadd_rn(sum, __fmul_rn(v, v));
        }
        const float inv = 1.0f / fmaxf(sqrtf(sum), eps);
        for (i64 ch = 0; ch < c; ++ch) {
            const float gc = __fmul_rn(g ? load_float(g, ch, g_dt) : 1.0f, root_c);
            const float bc = b ? load_float(b, ch, b_dt) : 0.0f;
            const i64 e = base + ch * inner;
            store_float(out, e, dt, __fadd_rn(__fmul_rn(__fmul_rn(load_float(x, e, dt), inv), gc), bc));
        }
    }
}

// Rotary embedding on interleaved pairs of x [..., L, H, D] viewed as rows of D (row r has
// position (r / H) % L): (a, b) = (x[2j], x[2j+1]) → (a·cos − b·sin, a·sin + b·cos), tables
// [L, D/2] dense. Rows over blockIdx.x·blockDim.y + threadIdx.y (grid-stride), pairs over
// threadIdx.x. Row r of x starts at strided(s, r·D), its elements `ls` apart; out is dense.
// `pairs` (x dense, row starts at even elements) reads each pair as one 8- or 4-byte word.
extern "C" __global__ void td_rotary(void* out, const void* x, int dt, Strided s, i64 ls, int pairs,
                                     i64 rows, i64 heads, i64 seq, i64 half,
                                     const void* cos_t, int c_dt, const void* sin_t, int s_dt) {
    for (i64 r = blockIdx.x * (i64)blockDim.y + threadIdx.y; r < rows; r += (i64)gridDim.x * blockDim.y) {
        const i64 pos = (r / heads) % seq;
        const i64 xo = strided_offset(s, r * 2 * half), oo = r * 2 * half;
        for (i64 j = threadIdx.x; j < half; j += blockDim.x) {
            float a, bv;
            if (pairs && dt == DT_F32) {
                const float2 q = *(const float2*)((const float*)x + xo + 2 * j);
                a = q.x; bv = q.y;
            } else if (pairs) {
                const u32 q = *((const u32*)((const u16*)x + xo + 2 * j));
                a = dt == DT_BF16 ? bf16_to_float((u16)(q & 0xffffu)) : half_to_float((u16)(q & 0xffffu));
                bv = dt == DT_BF16 ? bf16_to_float((u16)(q >> 16)) : half_to_float((u16)(q >> 16));
            } else {
                a = load_float(x, xo + 2 * j * ls, dt);
                bv = load_float(x, xo + (2 * j + 1) * ls, dt);
            }
            const float c = load_float(cos_t, pos * half + j, c_dt), sn = load_float(sin_t, pos * half + j, s_dt);
            float ra, rb;
            rotate_pair(a, bv, c, sn, ra, rb);
            store_float(out, oo + 2 * j, dt, ra);
            store_float(out, oo + 2 * j + 1, dt, rb);
        }
    }
}
