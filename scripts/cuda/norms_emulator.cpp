// CPU emulation of norms.cu (driven by emulate_norms.py, which extracts the kernel source into
// norms_extract.inc): td_rms_norm_rotary must equal td_rms_norm followed by td_rotary bit for bit,
// each launched as CUDABackend launches it; the composition is also compared, loosely, with a
// double-statistics reference so that two equally wrong results cannot pass.
#include <random>
#include <string>
#include "emulator_runtime.h"

#include "norms_extract.inc"

// One block row of `grid` blocks (the kernels here take rows by blockIdx.x).
template <class F>
static void launch(unsigned grid, Dim3 block, F kernel) { emu_launch({grid, 1, 1}, block, kernel); }

// StridedArgument (Launch.swift): size-1 dims dropped, mergeable neighbours merged, right-aligned.
static Strided strided(std::vector<i64> shape, std::vector<i64> strides, i64 offset) {
    std::vector<std::pair<i64, i64>> dims;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] == 1) continue;
        if (!dims.empty() && dims.back().second == strides[i] * shape[i]) dims.back() = {dims.back().first * shape[i], strides[i]};
        else dims.push_back({shape[i], strides[i]});
    }
    Strided s{};
    s.linear = dims.empty() || (dims.size() == 1 && dims[0].second == 1);
    s.offset = offset;
    for (int d = 0; d < MAX_DIMS; ++d) { s.size[d] = 1; s.stride[d] = 0; }
    for (size_t i = 0; i < dims.size(); ++i) {
        s.size[MAX_DIMS - dims.size() + i] = dims[i].first;
        s.stride[MAX_DIMS - dims.size() + i] = dims[i].second;
    }
    return s;
}

enum Layout { Dense, Transposed, Narrowed };

struct Case {
    int dt;
    i64 batch, seq, heads, head_dim;
    Layout layout;
    bool weight;
    int table_dt;
    bool candidate = false;  // launched as CUDAKernelSet.candidate launches it (wider rows per warp)
};

static int size_of(int dt) { return dt == DT_F32 ? 4 : 2; }
static const char* dt_name(int dt) { return dt == DT_F32 ? "f32" : dt == DT_BF16 ? "bf16" : "f16"; }

static std::vector<unsigned char> buffer(i64 n, int dt, std::mt19937& g, float lo, float hi) {
    std::vector<unsigned char> b(n * size_of(dt));
    std::uniform_real_distribution<float> u(lo, hi);
    for (i64 i = 0; i < n; ++i) store_float(b.data(), i, dt, u(g));
    return b;
}

// Returns whether the case passed.
static bool run(const Case& c, std::mt19937& g) {
    const i64 cols = c.heads * c.head_dim, half = c.head_dim / 2, rows = c.batch * c.seq;
    // x as the kernels see it: a buffer, a view of it and the view's last stride.
    std::vector<unsigned char> xb;
    Strided s;
    i64 ls = 1;
    if (c.layout == Dense) {
        xb = buffer(rows * cols, c.dt, g, -3, 3);
        s = strided({rows, cols}, {cols, 1}, 0);
    } else if (c.layout == Transposed) {  // rows of a [cols, rows] tensor
        xb = buffer(rows * cols, c.dt, g, -3, 3);
        s = strided({rows, cols}, {1, rows}, 0);
        ls = rows;
    } else {  // [rows, cols + 2] narrowed to columns 1 … cols
        xb = buffer(rows * (cols + 2), c.dt, g, -3, 3);
        s = strided({rows, cols}, {cols + 2, 1}, 1);
    }
    const std::vector<unsigned char> wb = buffer(cols, c.dt, g, -1.5f, 1.5f);
    std::vector<unsigned char> cosb(c.seq * half * size_of(c.table_dt)), sinb(cosb.size());
    std::uniform_real_distribution<double> angle(-3.2, 3.2);
    for (i64 i = 0; i < c.seq * half; ++i) {
        const double a = angle(g);
        store_float(cosb.data(), i, c.table_dt, (float)std::cos(a));
        store_float(sinb.data(), i, c.table_dt, (float)std::sin(a));
    }
    const void* w = c.weight ? wb.data() : nullptr;
    const float eps = 1e-6f;

    // rowNormLaunch: groups of 4 for a dense row of a multiple of 4 (buffers are aligned); a warp per
    // row, 4 rows a block, up to 512 groups of 4 (1280 with the candidate set); else a block per row.
    const bool vec = c.layout == Dense && cols % 4 == 0;
    const i64 units = vec ? cols / 4 : cols;
    const bool per_warp = vec && units <= (c.candidate ? 1280 : 512);
    const bool cached = (per_warp ? 4 : 1) * cols * 4 <= 48 * 1024;
    const unsigned block = per_warp ? 128u : (unsigned)std::min<i64>(1024, std::max<i64>(64, ((units + 1) / 2 + 31) / 32 * 32));
    const unsigned grid = (unsigned)std::min<i64>(per_warp ? (rows + 3) / 4 : rows, 3);
    const i64 n = rows * cols, bytes = n * size_of(c.dt);

    // The composition: td_rms_norm into a dense [rows, cols], then td_rotary on it as [rows·heads, D].
    std::vector<unsigned char> normed(bytes, 0xff), composed(bytes, 0xff), fused(bytes, 0xfe), fused32(bytes, 0xfd);
    launch(grid, {block, 1, 1}, [&] {
        td_rms_norm(normed.data(), xb.data(), c.dt, s, ls, rows, cols, vec, cached, per_warp, w, c.dt, eps);
    });
    const unsigned bx = (unsigned)std::min<i64>(128, (half + 31) / 32 * 32), by = std::max(1u, 256 / bx);
    const i64 rot_rows = rows * c.heads;
    const unsigned rot_grid = (unsigned)std::min<i64>((rot_rows + by - 1) / by, 3);
    const Strided dense = strided({n}, {1}, 0);
    launch(rot_grid, {bx, by, 1}, [&] {
        td_rotary(composed.data(), normed.data(), c.dt, dense, 1, 1, rot_rows, c.heads, c.seq, half,
                  cosb.data(), c.table_dt, sinb.data(), c.table_dt);
    });
    // The fused kernel, launched as CUDABackend.rmsNormRotary launches it.
    launch(grid, {block, 1, 1}, [&] {
        td_rms_norm_rotary(fused.data(), xb.data(), c.dt, s, ls, rows, cols, vec, vec && cached, per_warp, w, c.dt, eps,
                           c.seq, half, cosb.data(), c.table_dt, sinb.data(), c.table_dt);
    });
    launch(grid, {block, 1, 1}, [&] {
        td_rms_norm_rotary_u32(fused32.data(), xb.data(), c.dt, s, ls, rows, cols, vec, vec && cached, per_warp, w, c.dt, eps,
                               c.seq, half, cosb.data(), c.table_dt, sinb.data(), c.table_dt);
    });

    i64 mismatches = 0, first = -1;
    for (i64 i = 0; i < n; ++i) {
        if (std::memcmp(&composed[i * size_of(c.dt)], &fused[i * size_of(c.dt)], size_of(c.dt)) != 0 ||
            std::memcmp(&composed[i * size_of(c.dt)], &fused32[i * size_of(c.dt)], size_of(c.dt)) != 0) {
            if (first < 0) first = i;
            ++mismatches;
        }
    }
    // A loose reference: double statistics, no intermediate rounding.
    double err = 0, mag = 0;
    for (i64 r = 0; r < rows; ++r) {
        std::vector<double> v(cols);
        double sq = 0;
        for (i64 j = 0; j < cols; ++j) {
            v[j] = load_float(xb.data(), strided_offset(s, r * cols) + j * ls, c.dt);
            sq += v[j] * v[j];
        }
        const double scale = 1 / std::sqrt(sq / cols + eps);
        for (i64 j = 0; j < cols; ++j) v[j] *= scale * (w ? load_float(w, j, c.dt) : 1.0);
        for (i64 j = 0; j < cols; j += 2) {
            const i64 t = (r % c.seq) * half + (j % c.head_dim) / 2;
            const double cs = load_float(cosb.data(), t, c.table_dt), sn = load_float(sinb.data(), t, c.table_dt);
            const double ref[2] = {v[j] * cs - v[j + 1] * sn, v[j] * sn + v[j + 1] * cs};
            for (int k = 0; k < 2; ++k) {
                const double got = load_float(composed.data(), r * cols + j + k, c.dt);
                err = std::max(err, std::fabs(got - ref[k]));
                mag = std::max(mag, std::fabs(ref[k]));
            }
        }
    }
    const double tolerance = c.dt == DT_F32 ? 1e-4 : 5e-2;
    const bool ok = mismatches == 0 && err <= tolerance * mag && mag > 0;
    std::printf("%s %s x [%lld, %lld] as %lld × %lld, %s%s, %s tables, block %u%s%s: %s (%lld of %lld differ%s; "
                "composed vs double %.2g of %.3g)\n",
                ok ? "ok  " : "FAIL", dt_name(c.dt), (long long)rows, (long long)cols, (long long)c.heads, (long long)c.head_dim,
                c.layout == Dense ? "dense" : c.layout == Transposed ? "transposed" : "narrowed at offset 1",
                c.weight ? "" : ", no weight", dt_name(c.table_dt), block, vec ? " vec" : "", per_warp ? " warp/row" : "",
                mismatches ? "a fused kernel ≠ composed" : "both fused kernels = composed", (long long)mismatches, (long long)n,
                first >= 0 ? (", first at " + std::to_string(first)).c_str() : "", err, mag);
    return ok;
}

int main() {
    std::mt19937 g(7);
    bool ok = true;
    for (int dt : {DT_F32, DT_BF16, DT_F16}) {
        const Case cases[] = {
            {dt, 1, 33, 12, 128, Dense, true, DT_F32},
            {dt, 1, 9, 40, 128, Dense, true, DT_F32},    // 5120 wide: a block per row
            {dt, 1, 9, 40, 128, Dense, true, DT_F32, true},  // the candidate's warp per 5120-wide row (not cached)
            {dt, 1, 7, 20, 104, Dense, true, DT_F32},    // 2080 wide (520 groups): just past the warp limit
            {dt, 1, 7, 20, 104, Dense, true, DT_F32, true},  // the same as a candidate: a warp per row, cached
            {dt, 1, 5, 41, 128, Dense, false, DT_F32, true}, // 5248 wide (1312 groups): past the candidate's limit
            {dt, 1, 77, 2, 64, Dense, true, DT_F32},
            {dt, 1, 19, 3, 6, Dense, true, DT_F32},
            {dt, 2, 9, 5, 10, Dense, true, DT_F32},
            {dt, 1, 21, 2, 64, Transposed, true, DT_F32},
            {dt, 1, 15, 4, 32, Narrowed, false, DT_F32},
            {dt, 1, 11, 3, 32, Dense, true, DT_F16},
        };
        for (const Case& c : cases) ok = run(c, g) && ok;
    }
    std::printf(ok ? "all cases passed\n" : "FAILED\n");
    return ok ? 0 : 1;
}
