import Testing
import BackendCUDA
import TensorCore

/// Host-to-device copies through the pinned staging buffers, copies beside the computation on the
/// transfer stream, and the allocator's limit: an out-of-memory error names the numbers and the
/// backend stays usable after it.
@Suite(.enabled(if: CUDATestSupport.available), .serialized)
struct CUDATransferTests {
    func pattern(_ n: Int, seed: UInt32) throws -> Tensor {
        try Tensor.host((0..<n).map { Float(Int(($0 &* 2_654_435_761 &+ Int(seed)) % 65_521) - 32_760) / 1024 }, shape: [n])
    }

    @Test(arguments: [1000, (1 << 20) / 4 + 3, (32 << 20) / 4, (32 << 20) / 4 * 3 + 17])
    func stagedUploadsArriveExactly(_ n: Int) throws {
        let gpu = try CUDATestSupport.gpu
        let t = try pattern(n, seed: 1)
        #expect(try gpu.toHost(gpu.upload(t)).floats() == t.floats())
        // A strided view is gathered on the host first.
        let view = try pattern(2 * n, seed: 2).reshaped([n, 2]).narrowed(dim: 1, start: 1, length: 1)
        #expect(try gpu.toHost(gpu.upload(view)).floats() == view.floats())
    }

    @Test func copiesBesideTheComputationAreOrderedByTheEvents() throws {
        let gpu = try CUDATestSupport.gpu
        let n = (48 << 20) / 4
        // Work on the compute stream that frees a block, then a reserved upload that may reuse it.
        var busy = try gpu.upload(pattern(n, seed: 3))
        for _ in 0..<8 { busy = try gpu.affine(busy, scale: 1.0001, shift: 0) }
        let expectedBusy = try gpu.toHost(busy).floats()
        let source = try pattern(n, seed: 4)
        let reserved = try gpu.reserveUpload(source)
        let overlapped = try gpu.affine(busy, scale: 2, shift: 0)        // enqueued before the copy starts
        try gpu.startUploads()
        try gpu.awaitUploads()
        let sum = try gpu.add(reserved, reserved)
        #expect(try gpu.toHost(sum).floats() == source.floats().map { $0 + $0 })
        #expect(try gpu.toHost(overlapped).floats() == expectedBusy.map { $0 * 2 })
    }

    @Test func theLimitFailsCleanlyAndTheBackendGoesOn() throws {
        let gpu = try CUDATestSupport.gpu
        defer { gpu.setMemoryLimit(nil) }
        let held = gpu.memoryStatistics.live
        gpu.setMemoryLimit(held + (64 << 20))
        let small = try gpu.empty([8 << 20], dtype: .f32)                 // 32 MiB fits
        do {
            _ = try gpu.empty([16 << 20], dtype: .f32)                    // 64 MiB more does not
            Issue.record("an allocation beyond the limit succeeded")
        } catch TensorError.outOfMemory(let message) {
            #expect(message.contains("requested 64 MiB") && message.contains("free under the device memory limit"))
            #expect(message.contains("this process holds"))
        }
        _ = small
        let after = try gpu.upload(pattern(1000, seed: 5))
        #expect(try gpu.toHost(after).floats() == pattern(1000, seed: 5).floats())
    }
}
