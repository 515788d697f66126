import Testing
import TensorCore
@testable import BackendCPU

/// The int8 block quantiser SageSLA's sparse branch uses (SpargeAttn's vanilla q/k quantisation).
@Suite struct SageQuantizationTests {
    @Test func int8BlockQuantizationRoundsHalfAwayFromZero() {
        // One block: amax 2.54 -> scale 0.02 (+1e-7); 0.01 sits on a tie and rounds away from zero.
        let x: [Float] = [2.54, -0.01, 0.01, -2.54]
        var values = [Float](repeating: 0, count: 4), scale: Float = 0
        x.withUnsafeBufferPointer { xp in
            CPUBackend.quantizeInt8Blocks(xp.baseAddress!, rows: 1, width: 4, block: 1, shift: nil,
                                          into: &values, scales: &scale)
        }
        #expect(abs(scale - (2.54 / 127 + 1e-7)) < 1e-9)
        #expect(values == [127, 0, 0, -127] || values == [127, -1, 1, -127])
        #expect(values.allSatisfy { $0 == $0.rounded() && abs($0) <= 127 })
    }

}
