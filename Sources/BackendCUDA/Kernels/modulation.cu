// The Wan block's modulation, fused (ModulationBackend). Compiled after norms.cu, whose row
// machinery (RowView, block_sum, load4/store4, round_to) it uses, so the LayerNorm statistics
// are td_layer_norm's exactly (layer_norm_stats, same launch shape, same sums). Every step after them is one
// `__f*_rn` operation rounded to the dtype the composition would store, so the result equals the
// composition (layerNorm, affine, mul, add, convert) bit for bit.

// out (dtype out_dt, dense [rows, cols]) = LN(x)·(1 + scale) + shift; scale/shift [cols].
// Launched like td_layer_norm.
extern "C" __global__ void __launch_bounds__(1024)
td_modulated_layer_norm(void* out, int out_dt, const void* x, int dt, Strided s, i64 ls, i64 rows, i64 cols, int vec,
                        int cached, int per_warp, const void* scale, int scale_dt, const void* shift, int shift_dt, float eps) {
    __shared__ float scratch[32];
    extern __shared__ __align__(16) float row_cache[];
    const RowTeam team(per_warp);
    float* const cache = team.cache(row_cache, cached, cols);
    for (i64 r = team.first; r < rows; r += team.step) {
        const RowView row = {x, dt, strided_offset(s, r * cols), ls, cols, vec, cache, team.lane, team.width};
        float mean, rstd;
        layer_norm_stats(team, row, scratch, eps, mean, rstd);
        // LN stored in x's dtype; (1 + scale) in scale's; the product and the sum in x's (a binary
        // op's result has its first operand's dtype).
        auto modulate = [&](i64 j, float v) {
            const float n = round_to(__fmul_rn(__fsub_rn(v, mean), rstd), dt);
            const float g = round_to(__fadd_rn(load_float(scale, j, scale_dt), 1.0f), scale_dt);
            const float p = round_to(__fmul_rn(n, g), dt);
            return round_to(__fadd_rn(p, load_float(shift, j, shift_dt)), dt);
        };
        row.groups(false, [&](i64 j, const float* v) {
            if (vec) {
                float y[4];
#pragma unroll
                for (int k = 0; k < 4; ++k) y[k] = modulate(j + k, v[k]);
                store4(out, r * cols + j, out_dt, y);
            } else {
                store_float(out, r * cols + j, out_dt, modulate(j, v[0]));
            }
        });
    }
}

// out (dtype out_dt, dense [rows, cols]) = LayerNorm(x)·w + b with td_layer_norm's statistics and
// steps (each in fp32, then x's dtype: the composition layerNorm, then convert), rounded once more
// to out_dt; w and b [cols] or null. Launched like td_layer_norm.
extern "C" __global__ void __launch_bounds__(1024)
td_layer_norm_to(void* out, int out_dt, const void* x, int dt, Strided s, i64 ls, i64 rows, i64 cols, int vec,
                 int cached, int per_warp, const void* w, int w_dt, const void* b, int b_dt, float eps) {
    __shared__ float scratch[32];
    extern __shared__ __align__(16) float row_cache[];
    const RowTeam team(per_warp);
    float* const cache = team.cache(row_cache, cached, cols);
    for (i64 r = team.first; r < rows; r += team.step) {
        const RowView row = {x, dt, strided_offset(s, r * cols), ls, cols, vec, cache, team.lane, team.width};
        float mean, rstd;
        layer_norm_stats(team, row, scratch, eps, mean, rstd);
        auto normalise = [&](i64 j, float v) {
            float y = __fmul_rn(__fsub_rn(v, mean), rstd);
            if (w) y = __fmul_rn(y, load_float(w, j, w_dt));
            if (b) y = __fadd_rn(y, load_float(b, j, b_dt));
            return round_to(y, dt);
        };
        row.groups(false, [&](i64 j, const float* v) {
            if (vec) {
                float y[4];
#pragma unroll
                for (int k = 0; k < 4; ++k) y[k] = normalise(j + k, v[k]);
                store4(out, r * cols + j, out_dt, y);
            } else {
                store_float(out, r * cols + j, out_dt, normalise(j, v[0]));
            }
        });
    }
}

// out = x + gate·y over n elements of dense [.., cols] tensors; x and out f32, gate [cols].
// Four elements per thread step when `vec` (cols % 4 == 0, x/out 16-byte and y 8- or 16-byte
// aligned), else one.
extern "C" __global__ void td_gated_residual(float* out, const float* x, const void* y, int y_dt, const void* gate,
                                             int gate_dt, i64 n, i64 cols, int vec) {
    const i64 step = (i64)gridDim.x * blockDim.x;
    if (vec) {
        for (i64 i = 4 * ((i64)blockIdx.x * blockDim.x + threadIdx.x); i < n; i += 4 * step) {
            const i64 c = i % cols;
            const float4 a = *(const float4*)(x + i);
            float b[4];
            load4(y, i, y_dt, b);
            float4 o;
            o.x = __fadd_rn(a.x, __fmul_rn(load_float(gate, c, gate_dt), b[0]));
            o.y = __fadd_rn(a.y, __fmul_rn(load_float(gate, c + 1, gate_dt), b[1]));
            o.z = __fadd_rn(a.z, __fmul_rn(load_float(gate, c + 2, gate_dt), b[2]));
            o.w = __fadd_rn(a.w, __fmul_rn(load_float(gate, c + 3, gate_dt), b[3]));
            *(float4*)(out + i) = o;
        }
    } else {
        for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step)
            out[i] = __fadd_rn(x[i], __fmul_rn(load_float(gate, i % cols, gate_dt), load_float(y, i, y_dt)));
    }
}
