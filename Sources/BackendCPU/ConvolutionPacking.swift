import TensorCore

/// One kernel tap of a 3-D convolution: input channel (as an element offset) and the (t, h, w) shift.
struct ConvTap {
    var channelOffset: Int
    var dt: Int
    var dh: Int
    var dw: Int
}

/// Implicit im2col: B[kIndex, j] is the input value kernel tap kIndex sees at output position j
/// (0 inside the zero padding). Panels are gathered straight from the input while the GEMM packs
/// them, so no im2col matrix is ever written (it would be 27× the input for a 3×3×3 kernel).
///
/// The common case — 16 output positions in one output row, stride 1 along W, the whole input
/// row segment inside the image — is a straight 16-element copy; everything else goes through a
/// per-element bounds check.
struct ConvBSource<E: GemmElement>: GemmBSource {
    let x: UnsafeRawPointer          // one batch item [C, T, H, W], contiguous, element type E
    let t: Int, h: Int, w: Int
    let outH: Int, outW: Int
    let stride: (t: Int, h: Int, w: Int)
    let pad: (t: Int, h: Int, w: Int) // zeros before the input in each dimension
    let taps: UnsafePointer<ConvTap>  // kdim taps, kIndex = ((c·kt + dt)·kh + dh)·kw + dw

    func packB(p0: Int, kc: Int, c0: Int, nc: Int, panels: Range<Int>, dst: UnsafeMutablePointer<Float>) {
        let nr = GemmKernel.nr
        let plane = outH &* outW
        for q in panels {
            let j0 = c0 &+ q &* nr
            let cols = min(nr, c0 &+ nc &- j0)
            let out = dst + q &* kc &* nr
            let oz = j0 / plane, rem = j0 % plane
            let oy = rem / outW, ox = rem % outW
            if cols == nr && ox &+ nr <= outW {
                packRowPanel(p0: p0, kc: kc, iz0: oz &* stride.t &- pad.t, iy0: oy &* stride.h &- pad.h,
                             ix0: ox &* stride.w &- pad.w, out: out)
            } else {
                packScatteredPanel(p0: p0, kc: kc, j0: j0, cols: cols, out: out)
            }
        }
    }

    /// 16 consecutive output positions of one output row.
    @inline(__always)
    private func packRowPanel(p0: Int, kc: Int, iz0: Int, iy0: Int, ix0: Int, out: UnsafeMutablePointer<Float>) {
        let nr = GemmKernel.nr, sw = stride.w
        for kk in 0..<kc {
            let tap = taps[p0 &+ kk]
            let row = out + kk &* nr
            let iz = iz0 &+ tap.dt, iy = iy0 &+ tap.dh
            if iz < 0 || iz >= t || iy < 0 || iy >= h {
                row.update(repeating: 0, count: nr)
                continue
            }
            let ixs = ix0 &+ tap.dw
            let base = tap.channelOffset &+ (iz &* h &+ iy) &* w
            if sw == 1 && ixs >= 0 && ixs &+ nr <= w {
                let src = base &+ ixs
                for j in 0..<16 { row[j] = E.widen(x, src &+ j) }
            } else {
                for j in 0..<16 {
                    let ix = ixs &+ j &* sw
                    row[j] = ix >= 0 && ix < w ? E.widen(x, base &+ ix) : 0
                }
            }
        }
    }

    /// A panel that wraps to the next output row or runs past the last column.
    private func packScatteredPanel(p0: Int, kc: Int, j0: Int, cols: Int, out: UnsafeMutablePointer<Float>) {
        let nr = GemmKernel.nr
        var iz0 = [Int](repeating: 0, count: nr), iy0 = iz0, ix0 = iz0
        var oz = j0 / (outH * outW), oy = (j0 / outW) % outH, ox = j0 % outW
        for j in 0..<cols {
            iz0[j] = oz * stride.t - pad.t
            iy0[j] = oy * stride.h - pad.h
            ix0[j] = ox * stride.w - pad.w
            ox += 1
            if ox == outW { ox = 0; oy += 1; if oy == outH { oy = 0; oz += 1 } }
        }
        for kk in 0..<kc {
            let tap = taps[p0 &+ kk]
            let row = out + kk &* nr
            for j in 0..<nr {
                var v: Float = 0
                if j < cols {
                    let iz = iz0[j] &+ tap.dt, iy = iy0[j] &+ tap.dh, ix = ix0[j] &+ tap.dw
                    if iz >= 0 && iz < t && iy >= 0 && iy < h && ix >= 0 && ix < w {
                        v = E.widen(x, tap.channelOffset &+ (iz &* h &+ iy) &* w &+ ix)
                    }
                }
                row[j] = v
            }
        }
    }
}
