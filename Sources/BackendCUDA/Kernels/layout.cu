// Layout kernels: strided copy (concat), constant padding, nearest upsampling. They move
// elements of 1, 2, 4 or 8 bytes without interpreting them, so every dtype works.
// All indices are 64-bit (VAE activations exceed 2^31 elements).

__device__ __forceinline__ void copy_element(void* out, i64 o, const void* in, i64 i, int elem_size) {
    switch (elem_size) {
    case 1: ((unsigned char*)out)[o] = ((const unsigned char*)in)[i]; break;
    case 2: ((u16*)out)[o] = ((const u16*)in)[i]; break;
    case 4: ((u32*)out)[o] = ((const u32*)in)[i]; break;
    default: ((u64*)out)[o] = ((const u64*)in)[i]; break;
    }
}

// out[strided(d, i)] = in[strided(s, i)] for the n elements of two views of the same shape
// (row-major index i; each view's dims may have been merged differently).
extern "C" __global__ void td_copy_strided(void* out, Strided d, const void* in, Strided s, int elem_size, i64 n) {
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
        copy_element(out, strided_offset(d, i), in, strided_offset(s, i), elem_size);
    }
}

// out row r = in row r for `rows` rows of `chunks` 16-byte chunks each: row r starts strided_offset(d, r)
// elements (of elem_size bytes) into out and strided_offset(s, r) into in, every start 16-byte aligned.
// `group` lanes (a power of two ≤ 32, about the chunks of a row) share a row, so a row's index is
// decoded once, not per element as td_copy_strided does: the transposing copies of head merges and
// of SLA's head groups, whose rows are a head's D contiguous values.
extern "C" __global__ void td_copy_runs16(char* out, Strided d, const char* in, Strided s, int elem_size, i64 chunks,
                                          i64 rows, int group) {
    const i64 tid = blockIdx.x * (i64)blockDim.x + threadIdx.x, groups = (i64)gridDim.x * blockDim.x / group;
    const int lane = (int)(tid % group);
    for (i64 r = tid / group; r < rows; r += groups) {
        uint4* o = (uint4*)(out + strided_offset(d, r) * elem_size);
        const uint4* p = (const uint4*)(in + strided_offset(s, r) * elem_size);
        for (i64 c = lane; c < chunks; c += group) o[c] = p[c];
    }
}

// Geometry of a constant pad, dims right-aligned in MAX_DIMS slots. Unused leading slots hold
// out_size 1, before 0, in_size 1. in_stride/offset are the input view's, in elements.
struct PadDims {
    i64 in_offset;
    i64 out_size[MAX_DIMS];
    i64 before[MAX_DIMS];
    i64 in_size[MAX_DIMS];
    i64 in_stride[MAX_DIMS];
};

// out (dense, n elements) = input where the output coordinate minus `before` lies inside the
// input, else the fill bits (the low elem_size bytes of `fill`).
extern "C" __global__ void td_pad(void* out, const void* in, PadDims g, int elem_size, u64 fill, i64 n) {
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
        i64 rem = i, off = g.in_offset;
        bool inside = true;
#pragma unroll
        for (int d = MAX_DIMS - 1; d >= 0; --d) {
            const i64 size = g.out_size[d];
            i64 c = 0;
            if (size != 1) {
                const i64 q = rem / size;
                c = rem - q * size;
                rem = q;
            }
            c -= g.before[d];
            if (c < 0 || c >= g.in_size[d]) inside = false;
            else off += c * g.in_stride[d];
        }
        if (inside) {
            copy_element(out, i, in, off, elem_size);
        } else {
            switch (elem_size) {
            case 1: ((unsigned char*)out)[i] = (unsigned char)fill; break;
            case 2: ((u16*)out)[i] = (u16)fill; break;
            case 4: ((u32*)out)[i] = (u32)fill; break;
            default: ((u64*)out)[i] = fill; break;
            }
        }
    }
}

// Nearest upsampling of the last two dims by integer factors: out[p, y, x] = in[p, y/sh, x/sw].
// Output rows (p, y) go over blockIdx.x·blockDim.y + threadIdx.y (grid-stride), columns over
// threadIdx.x. Input row r of the logical [planes·h, w] view starts at strided(s, r·w); its
// columns are `last_stride` apart (true for any strided view).
extern "C" __global__ void td_upsample_nearest(void* out, const void* in, Strided s, i64 last_stride, int elem_size,
                                               i64 h, i64 w, i64 sh, i64 sw, i64 out_rows) {
    const i64 oh = h * sh, ow = w * sw;
    for (i64 r = blockIdx.x * (i64)blockDim.y + threadIdx.y; r < out_rows; r += (i64)gridDim.x * blockDim.y) {
        const i64 plane = r / oh, oy = r - plane * oh;
        const i64 src_row = strided_offset(s, (plane * h + oy / sh) * w);
        const i64 dst_row = r * ow;
        for (i64 ox = threadIdx.x; ox < ow; ox += blockDim.x) {
            copy_element(out, dst_row + ox, in, src_row + (ox / sw) * last_stride, elem_size);
        }
    }
}

// A bias that depends on key − query only, expanded: out[h][i][j] = by_distance[h][j − i + L − 1]
// (by_distance dense [H][2L − 1]) where keep == 0 or keep[j] != 0, else the `fill` bits (the mask
// value). Elements are copied as bits (2 or 4 bytes), never converted. Grid-stride over H·L·L.
extern "C" __global__ void td_relative_bias(void* out, const void* by_distance, const unsigned char* keep, int elem_size,
                                            u64 fill, int H, int L) {
    const i64 n = (i64)H * L * L, width = 2 * (i64)L - 1;
    for (i64 e = blockIdx.x * (i64)blockDim.x + threadIdx.x; e < n; e += (i64)gridDim.x * blockDim.x) {
        const i64 j = e % L, r = e / L, i = r % L, h = r / L;
        if (keep && !keep[j]) {
            if (elem_size == 2) ((u16*)out)[e] = (u16)fill;
            else ((u32*)out)[e] = (u32)fill;
        } else {
            copy_element(out, e, by_distance, h * width + j - i + L - 1, elem_size);
        }
    }
}
