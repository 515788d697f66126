import Testing
@testable import TensorCore

@Suite struct PhiloxTests {
    /// Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors).
    @Test func knownAnswers() {
        let zero = Philox.block(counter: (0, 0, 0, 0), key: (0, 0))
        #expect([zero.0, zero.1, zero.2, zero.3] == [0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8])
        let ones = Philox.block(counter: (.max, .max, .max, .max), key: (.max, .max))
        #expect([ones.0, ones.1, ones.2, ones.3] == [0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD])
        let pi = Philox.block(counter: (0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344), key: (0xA409_3822, 0x299F_31D0))
        #expect([pi.0, pi.1, pi.2, pi.3] == [0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1])
    }

    /// The NumPy transcription training/philox.py (which makes the demo's teacher fixtures from the
    /// engine's noise) gives these values; the two must agree to the last bit.
    @Test func agreesWithThePythonTranscription() {
        #expect(Philox(seed: 42, stream: 3).normals(count: 6)
            == [-2.3877787590026855, 0.8490601778030396, -0.6570045351982117, -0.4657707214355469, 0.8527862429618835, 0.7566486597061157])
        #expect(Philox(seed: 7, stream: 2).normals(count: 3, offset: 5117) == [-0.5401515960693359, -0.8509923815727234, -1.0701709985733032])
        #expect(Philox(seed: (1 << 40) + 5, stream: 1).normals(count: 2) == [1.4117748737335205, -1.171936273574829])
    }

    @Test func slicesAgreeWithTheWholeSequence() {
        let g = Philox(seed: 42, stream: 3)
        let all = g.normals(count: 103)
        #expect(g.normals(count: 50, offset: 37) == Array(all[37..<87]))
        #expect(g.normals(count: 1, offset: 102) == [all[102]])
        #expect(Philox(seed: 42, stream: 4).normals(count: 8) != Array(all[0..<8]))
        #expect(Philox(seed: 43, stream: 3).normals(count: 8) != Array(all[0..<8]))
    }

    /// A latent-sized request is split over threads; every element must equal the one a small
    /// (single-threaded) request at its offset gives, at split edges and an unaligned start too.
    @Test func threadedRequestsAgreeWithSmallSlices() {
        let g = Philox(seed: 11, stream: 2)
        let offset = 4 * 70_001 + 3, count = 300_007
        let big = g.normals(count: count, offset: offset)
        for start in [0, 1, 2, 3, 4, 18_749, 18_750, 18_751, 75_000, 150_003, count - 5] {
            let n = min(5, count - start)
            #expect(Array(big[start..<(start + n)]) == g.normals(count: n, offset: offset + start), "at \(start)")
        }
    }

    @Test func normalsHaveUnitMoments() {
        let z = Philox(seed: 7).normals(count: 200_000).map(Double.init)
        let mean = z.reduce(0, +) / Double(z.count)
        let variance = z.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(z.count)
        let kurtosis = z.reduce(0) { $0 + ($1 - mean) * ($1 - mean) * ($1 - mean) * ($1 - mean) } / Double(z.count) / (variance * variance)
        #expect(abs(mean) < 0.01 && abs(variance - 1) < 0.01 && abs(kurtosis - 3) < 0.05)
        #expect(z.allSatisfy { $0.isFinite })
    }
}
