// CPU emulation of the W8A8 activation quantisers (driven by emulate_w8a8_quantize.py, which extracts
// td_w8a8_quantize, td_w8a8_quantize_block and td_w8a8_tile with common.cu's reductions into
// w8a8_extract.inc): td_w8a8_quantize_block must write what td_w8a8_quantize (the first kernel, the
// reference layout) writes, bit for bit, and with `tiled` exactly td_w8a8_tile's tiles of that result,
// every byte of every tile (rows past M and columns past kp zero). Outputs start poisoned. The threads,
// barriers and conversions are emulator_runtime.h's.
#include <random>
#include <string>
#include "emulator_runtime.h"

#include "w8a8_extract.inc"

template <class F>
static void launch(unsigned gx, unsigned gy, unsigned threads, F kernel) { emu_launch({gx, gy, 1}, {threads, 1, 1}, kernel); }

static const char* NAMES[3] = {"f32", "bf16", "f16"};

// x [m, k] of dtype dt, 16-byte aligned; values salted with zeros and one all-zero block row when
// asked (its scale is 0: every value quantises to 0 without a division).
static bool run(i64 m, i64 k, int dt, bool zero_block, std::mt19937& g) {
    const int size = dt == DT_F32 ? 4 : 2;
    const i64 kp = (k + 15) / 16 * 16, kb = (k + 127) / 128, mb = (m + 127) / 128;
    std::vector<unsigned char> xb(m * k * size + 16);
    void* x = (void*)(((uintptr_t)xb.data() + 15) & ~(uintptr_t)15);
    std::normal_distribution<float> nd(0.0f, 2.0f);
    for (i64 i = 0; i < m * k; ++i) {
        float v = (g() % 11 == 0) ? 0.0f : nd(g);
        if (zero_block && i / k < 128 && m > 128) v = 0.0f;
        store_float(x, i, dt, v);
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
