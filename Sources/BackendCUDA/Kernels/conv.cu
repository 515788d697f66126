// Convolution helpers around cuBLASLt (CUDABackend+Convolution.swift) and the VAE's fused
// RMS_norm + SiLU. All index arithmetic is 64-bit: VAE activations exceed 2^31 elements.

// im2col of one chunk of output positions of one batch item:
//   col[k * nc + j] = x[ci, iz, iy, ix] (0 in the zero padding), j < nc, k < K = C·kt·kh·kw,
// where output position p = p0 + j is (oz, oy, ox) over [To, Ho, Wo], k = ((ci·kt + dt)·kh + dh)·kw + dw
// (the weight's flattening) and (iz, iy, ix) = (oz·st − pt + dt, oy·sh − ph + dh, ox·sw − pw + dw).
// x is any strided view: element (ci, z, y, x) at x_off + ci·xs_c + z·xs_t + y·xs_h + x·xs_w.
// Launch: block (256), grid (ceil(nc / 256), ceil(K / k_per_block)); each thread decodes its
// output position once and writes k_per_block rows of one column (coalesced along j).
extern "C" __global__ void td_im2col(void* col, int col_dt, const void* x, int x_dt, i64 x_off,
                                     i64 xs_c, i64 xs_t, i64 xs_h, i64 xs_w,
                                     int T, int H, int W, int kt, int kh, int kw,
                                     int st, int sh, int sw, int pt, int ph, int pw,
                                     int Ho, int Wo, i64 p0, i64 nc, i64 K, int k_per_block) {
    const i64 j = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= nc) return;
    const i64 p = p0 + j;
    const i64 hw = (i64)Ho * Wo;
    const i64 oz = p / hw;
    const i64 rem = p - oz * hw;
    const i64 oy = rem / Wo;
    const i64 ox = rem - oy * Wo;
    const i64 iz0 = oz * st - pt, iy0 = oy * sh - ph, ix0 = ox * sw - pw;

    const i64 k0 = (i64)blockIdx.y * k_per_block;
    if (k0 >= K) return;
    const i64 k1 = k0 + k_per_block < K ? k0 + k_per_block : K;
    // Decode k0 into (ci, dt, dh, dw), then step the counters.
    i64 q = k0;
    int dw = (int)(q % kw); q /= kw;
    int dh = (int)(q % kh); q /= kh;
    int dt = (int)(q % kt);
    i64 ci = q / kt;
    for (i64 k = k0; k < k1; ++k) {
        const i64 iz = iz0 + dt, iy = iy0 + dh, ix = ix0 + dw;
        float v = 0.0f;
        if (iz >= 0 && iz < T && iy >= 0 && iy < H && ix >= 0 && ix < W) {
            v = load_float(x, x_off + ci * xs_c + iz * xs_t + iy * xs_h + ix * xs_w, x_dt);
        }
        store_float(col, k * nc + j, col_dt, v);
        if (++dw == kw) {
            dw = 0;
            if (++dh == kh) {
                dh = 0;
                if (++dt == kt) { dt = 0; ++ci; }
            }
        }
    }
}

// out[r·out_ld + c] = src[r·src_ld + c] + bias[r mod bias_period] for r < rows, c < cols, rounded
// once to out_dt. src == 0 reads as zeros, bias == 0 adds nothing. out may alias src (same ld,
// f32): each element is read and written by the same thread.
// Launch: block (256), grid (x over cols, y over rows), grid-stride in both.
extern "C" __global__ void td_conv_epilogue(void* out, int out_dt, i64 out_ld, const float* src, i64 src_ld,
                                            const float* bias, i64 bias_period, i64 rows, i64 cols) {
    for (i64 r = blockIdx.y; r < rows; r += gridDim.y) {
        const float b = bias ? bias[r % bias_period] : 0.0f;
        for (i64 c = (i64)blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += (i64)gridDim.x * blockDim.x) {
            const float v = src ? src[r * src_ld + c] : 0.0f;
            store_float(out, r * out_ld + c, out_dt, v + b);
        }
    }
}

// The VAE's RMS_norm followed by SiLU, over dim 0 of a dense x [C, inner]:
//   y = x / max(‖x[:, i]‖₂, eps) · (gamma[c] · root_c) + bias[c];  out = y / (1 + exp(−y)),
// f32 math, one rounding to out_dt (the CPU backend's order of operations). gamma and bias are
// dense f32 [C]; bias == 0 adds nothing. One thread per position i, looping over channels: the
// warp's reads of one channel are consecutive. Grid-stride over inner (64-bit).
extern "C" __global__ void td_l2norm_silu(void* out, int out_dt, const void* x, int x_dt,
                                          const float* gamma, const float* bias, int C, i64 inner,
                                          float eps, float root_c) {
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < inner; i += (i64)gridDim.x * blockDim.x) {
        float s = 0.0f;
        for (int c = 0; c < C; ++c) {
            const float v = load_float(x, (i64)c * inner + i, x_dt);
            s += v * v;
        }
        const float norm = sqrtf(s);
        const float inv = 1.0f / (eps >= norm ? eps : norm);  // NaN propagates, as Swift.max on the CPU
        for (int c = 0; c < C; ++c) {
            const i64 e = (i64)c * inner + i;
            const float y = load_float(x, e, x_dt) * inv * (gamma[c] * root_c) + (bias ? bias[c] : 0.0f);
            store_float(out, e, out_dt, y / (1.0f + expf(-y)));
        }
    }
}

// The same for C ≤ 384 with x read once: a block of 256 threads stages 16 positions × C channels in
// shared memory (a warp reads two channels' 16 consecutive positions: 64-byte segments), thread
// (position p, group g) sums the squares of channels g, g+16, …, the sixteen partial sums are added
// in order g = 0…15, then each thread writes its channels. (td_l2norm_silu reads x twice and, at the
// VAE's 4-frame groups, from DRAM both times.) Same operations per output but the order of the sum.
#define L2N_POS 16
#define L2N_GROUPS 16
#define L2N_MAX_C 384
extern "C" __global__ void __launch_bounds__(256) td_l2norm_silu_tiled(void* out, int out_dt, const void* x, int x_dt,
                                                                       const float* gamma, const float* bias, int C,
                                                                       i64 inner, float eps, float root_c) {
    __shared__ float tile[L2N_MAX_C * L2N_POS];
    __shared__ float partial[L2N_GROUPS][L2N_POS];
    __shared__ float inv_norm[L2N_POS];
    const int p = threadIdx.x % L2N_POS, grp = threadIdx.x / L2N_POS;
    const i64 i = (i64)blockIdx.x * L2N_POS + p;
    const bool live = i < inner;
    float s = 0.0f;
    for (int c = grp; c < C; c += L2N_GROUPS) {
        const float v = live ? load_float(x, (i64)c * inner + i, x_dt) : 0.0f;
        tile[c * L2N_POS + p] = v;
        s += v * v;
    }
    partial[grp][p] = s;
    __syncthreads();
    if (grp == 0) {
        float total = 0.0f;
#pragma unroll
        for (int g = 0; g < L2N_GROUPS; ++g) total += partial[g][p];
        const float norm = sqrtf(total);
        inv_norm[p] = 1.0f / (eps >= norm ? eps : norm);  // NaN propagates, as Swift.max on the CPU
    }
    __syncthreads();
    if (!live) return;
    const float inv = inv_norm[p];
    for (int c = grp; c < C; c += L2N_GROUPS) {
        const float y = tile[c * L2N_POS + p] * inv * (gamma[c] * root_c) + (bias ? bias[c] : 0.0f);
        store_float(out, (i64)c * inner + i, out_dt, y / (1.0f + expf(-y)));
    }
}

// [3, F, H, W] float video (dense, x_dt) → [F, H, W, 3] u8: VideoBytes.byte of TensorCore, operation
// by operation (the __f*_rn intrinsics keep the compiler from contracting s·255 + 0.5 into an FMA,
// which would round differently from the CPU). One thread per pixel; reads of each channel plane
// are consecutive across a warp. Grid-stride over plane = F·H·W.
extern "C" __global__ void td_video_bytes(unsigned char* out, const void* x, int x_dt, i64 plane) {
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < plane; i += (i64)gridDim.x * blockDim.x) {
#pragma unroll
        for (int c = 0; c < 3; ++c) {
            const float v = load_float(x, (i64)c * plane + i, x_dt);
            unsigned char b = 0;
            if (v == v) {
                const float clamped = v < -1.0f ? -1.0f : (v > 1.0f ? 1.0f : v);
                const float s = __fdiv_rn(__fadd_rn(clamped, 1.0f), 2.0f);
                b = (unsigned char)(int)__fadd_rn(__fmul_rn(s, 255.0f), 0.5f);
            }
            out[3 * i + c] = b;
        }
    }
}

// A channels-last convolution result y [N][P][O] (cuDNN's NDHWC output, 16-bit y_dt) to the
// backend's [N][O][P] layout: out[n, o, p] = y[n, p, o] + bias[o] (f32 math, bias == 0 adds
// nothing), then + residual[n, o, p] when residual is not 0 (a dense f32 [N][O][P]; a second f32
// sum, as conv then add), rounded once to out_dt. A 32 × 32 tile through shared memory so both the
// reads (along o) and the writes (along p) are coalesced. Launch: block (32, 8), grid (ceil(P / 32),
// ceil(O / 32), N).
extern "C" __global__ void td_conv_from_channels_last(void* out, int out_dt, const void* y, int y_dt, const float* bias,
                                                      const float* residual, int O, i64 P) {
    __shared__ float tile[32][33];
    const i64 n = blockIdx.z, p0 = (i64)blockIdx.x * 32;
    const int o0 = blockIdx.y * 32;
    for (int j = threadIdx.y; j < 32; j += 8) {
        const i64 p = p0 + j;
        const int o = o0 + threadIdx.x;
        if (p < P && o < O) tile[j][threadIdx.x] = load_float(y, (n * P + p) * O + o, y_dt);
    }
    __syncthreads();
    for (int j = threadIdx.y; j < 32; j += 8) {
        const int o = o0 + j;
        const i64 p = p0 + threadIdx.x;
        if (p < P && o < O) {
            const i64 at = (n * O + o) * P + p;
            float value = tile[threadIdx.x][j] + (bias ? bias[o] : 0.0f);
            if (residual) value = value + residual[at];
            store_float(out, at, out_dt, value);
        }
    }
}
