import Testing
import TensorCore
import BackendCPU
import Media
@testable import Pipeline

/// The decoded video as bytes: the VAE backends' `videoBytes` agrees with the writer's conversion
/// (Media's `FrameConversion.toByte`, the upstream formula) value for value, its layout is
/// [F, H, W, 3], and the generator's `place` puts samples side by side.
@Suite struct VideoBytesTests {
    @Test func byteEqualsTheWritersConversion() {
        // Every 1/2^14 step over [-1.2, 1.2] plus the f32 neighbours of each rounding edge (k + 0.5)/255.
        var values: [Float] = stride(from: Float(-1.2), through: 1.2, by: 1.0 / 16384).map { $0 }
        for k in 0...255 {
            let edge = Float(2 * (Double(k) + 0.5) / 255 - 1)
            values += [edge.nextDown, edge, edge.nextUp]
        }
        values += [-.infinity, .infinity, .nan, -0.0, 0.0, 1, -1]
        for v in values {
            #expect(VideoBytes.byte(v) == FrameConversion.toByte(v), "v = \(v)")
        }
    }

    @Test func cpuBackendLayoutIsFramesRowsColumnsChannels() throws {
        let (f, h, w) = (2, 3, 4)
        var values = [Float](repeating: 0, count: 3 * f * h * w)
        for i in values.indices { values[i] = Float(i % 7) / 3 - 1 }
        let bytes = try CPUBackend().videoBytes(Tensor.host(values, shape: [3, f, h, w]))
        #expect(bytes.shape == [f, h, w, 3] && bytes.dtype == .u8)
        let got = try bytes.int64s()
        let plane = f * h * w
        for p in 0..<plane {
            for c in 0..<3 { #expect(got[3 * p + c] == Int64(FrameConversion.toByte(values[c * plane + p]))) }
        }
        #expect(throws: TensorError.self) { try CPUBackend().videoBytes(Tensor.host([Float](repeating: 0, count: 8), shape: [2, 1, 2, 2])) }
    }

    @Test func placeTilesSamplesSideBySide() throws {
        let (f, h, w, n) = (2, 2, 3, 2)
        var frames = [[UInt8]](repeating: [UInt8](repeating: 0, count: w * n * h * 3), count: f)
        for k in 0..<n {
            let bytes = try Tensor.host((0..<(f * h * w * 3)).map { Float(($0 + 100 * k) % 256) }, shape: [f, h, w, 3], dtype: .u8)
            try VideoGenerator.place(bytes, sample: k, of: n, into: &frames, width: w, height: h)
        }
        for t in 0..<f {
            for y in 0..<h {
                for k in 0..<n {
                    for x in 0..<w {
                        for c in 0..<3 {
                            let expected = UInt8((((t * h + y) * w + x) * 3 + c + 100 * k) % 256)
                            #expect(frames[t][((y * w * n) + k * w + x) * 3 + c] == expected)
                        }
                    }
                }
            }
        }
    }
}
