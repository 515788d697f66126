import Testing
import BackendCPU
import Checkpoints
import TensorCore
@testable import Models

/// A streamed DiT (block weights on the host, uploaded per block) computes exactly what the resident
/// one does, through the same upload-beside-the-computation mechanism the CUDA backend implements.
@Suite struct WeightStreamingTests {
    /// The CPU backend behind `AsyncUploadBackend`: `reserveUpload` copies into a fresh buffer that
    /// counts as in flight until `awaitUploads` after a `startUploads`; an op reading an in-flight
    /// tensor fails the test, as reading a copy that has not arrived would be a race on a GPU.
    final class StagingBackend: AsyncUploadBackend, SparseAttentionBackend, QuantizedMatmulBackend, @unchecked Sendable {
        let cpu = CPUBackend()
        var device: Device { cpu.device }
        var name: String { "staging " + cpu.name }
        private var inFlight: Set<ObjectIdentifier> = []
        private var reserved = 0
        private(set) var uploadedBytes = 0, uploads = 0, joins = 0, mostInFlight = 0, starts = 0

        func reserveUpload(_ t: Tensor) throws -> Tensor {
            reserved += 1
            let copy = try Tensor.hostEmpty(t.shape, dtype: t.dtype)
            try t.withUnsafeBytes { try copy.hostBuffer().base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            inFlight.insert(ObjectIdentifier(try copy.hostBuffer()))
            mostInFlight = max(mostInFlight, inFlight.count)
            uploadedBytes += t.byteCount
            uploads += 1
            return copy
        }
        func startUploads() throws {
            starts += 1
            reserved = 0
        }
        func awaitUploads() throws {
            if reserved > 0 { Issue.record("awaited \(reserved) uploads that were reserved but never started") }
            inFlight.removeAll()
            joins += 1
        }
        func arrived(_ ts: Tensor?...) {
            for t in ts.compactMap({ $0 }) {
                if let b = t.buffer as? HostBuffer, inFlight.contains(ObjectIdentifier(b)) {
                    Issue.record("an op read a tensor whose upload was not awaited")
                }
            }
        }

        func empty(_ shape: [Int], dtype: DType) throws -> Tensor { try cpu.empty(shape, dtype: dtype) }
        func upload(_ t: Tensor) throws -> Tensor { try cpu.upload(t) }
        func toHost(_ t: Tensor) throws -> Tensor { arrived(t); return try cpu.toHost(t) }
        func synchronize() throws {}
        func contiguous(_ x: Tensor, dtype: DType?) throws -> Tensor { arrived(x); return try cpu.contiguous(x, dtype: dtype) }
        func concat(_ xs: [Tensor], dim: Int) throws -> Tensor { for x in xs { arrived(x) }; return try cpu.concat(xs, dim: dim) }
        func pad(_ x: Tensor, _ padding: [Padding], value: Float) throws -> Tensor { arrived(x); return try cpu.pad(x, padding, value: value) }
        func unary(_ op: UnaryOp, _ x: Tensor) throws -> Tensor { arrived(x); return try cpu.unary(op, x) }
        func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) throws -> Tensor { arrived(a, b); return try cpu.binary(op, a, b) }
        func affine(_ x: Tensor, scale: Float, shift: Float) throws -> Tensor { arrived(x); return try cpu.affine(x, scale: scale, shift: shift) }
        func softmax(_ x: Tensor) throws -> Tensor { arrived(x); return try cpu.softmax(x) }
        func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float) throws -> Tensor {
            arrived(x, weight, bias); return try cpu.layerNorm(x, weight: weight, bias: bias, eps: eps)
        }
        func rmsNorm(_ x: Tensor, weight: Tensor?, eps: Float) throws -> Tensor { arrived(x, weight); return try cpu.rmsNorm(x, weight: weight, eps: eps) }
        func l2Norm(_ x: Tensor, dim: Int, gamma: Tensor?, bias: Tensor?, eps: Float) throws -> Tensor {
            arrived(x, gamma, bias); return try cpu.l2Norm(x, dim: dim, gamma: gamma, bias: bias, eps: eps)
        }
        func matmul(_ a: Tensor, _ b: Tensor, transposeB: Bool, bias: Tensor?, outputType: DType) throws -> Tensor {
            arrived(a, b, bias); return try cpu.matmul(a, b, transposeB: transposeB, bias: bias, outputType: outputType)
        }
        func attention(q: Tensor, k: Tensor, v: Tensor, scale: Float, bias: Tensor?) throws -> Tensor {
            arrived(q, k, v, bias); return try cpu.attention(q: q, k: k, v: v, scale: scale, bias: bias)
        }
        func rotary(_ x: Tensor, cos: Tensor, sin: Tensor) throws -> Tensor { arrived(x, cos, sin); return try cpu.rotary(x, cos: cos, sin: sin) }
        func conv3d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding]) throws -> Tensor {
            arrived(x, weight, bias); return try cpu.conv3d(x, weight: weight, bias: bias, stride: stride, padding: padding)
        }
        func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding]) throws -> Tensor {
            arrived(x, weight, bias); return try cpu.conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding)
        }
        func slaBlockMap(q: Tensor, k: Tensor, blockQ: Int, blockK: Int, keep: Int) throws -> Tensor {
            arrived(q, k); return try cpu.slaBlockMap(q: q, k: k, blockQ: blockQ, blockK: blockK, keep: keep)
        }
        func blockSparseAttention(q: Tensor, k: Tensor, v: Tensor, blocks: Tensor, blockQ: Int, blockK: Int, scale: Float) throws -> Tensor {
            arrived(q, k, v, blocks)
            return try cpu.blockSparseAttention(q: q, k: k, v: v, blocks: blocks, blockQ: blockQ, blockK: blockK, scale: scale)
        }
        func quantizedBlockSparseAttention(q: Tensor, k: Tensor, v: Tensor, blocks: Tensor, blockQ: Int, blockK: Int,
                                           scale: Float) throws -> Tensor {
            arrived(q, k, v, blocks)
            return try cpu.quantizedBlockSparseAttention(q: q, k: k, v: v, blocks: blocks, blockQ: blockQ, blockK: blockK, scale: scale)
        }
        func quantizedMatmul(_ x: Tensor, weight: Tensor, scales: Tensor, bias: Tensor?, outputType: DType) throws -> Tensor {
            arrived(x, weight, scales, bias)
            return try cpu.quantizedMatmul(x, weight: weight, scales: scales, bias: bias, outputType: outputType)
        }
        func upsampleNearest(_ x: Tensor, scaleH: Int, scaleW: Int) throws -> Tensor { arrived(x); return try cpu.upsampleNearest(x, scaleH: scaleH, scaleW: scaleW) }
    }

    static let config = WanDiTConfig(dim: 64, ffnDim: 96, numHeads: 2, numLayers: 3, inChannels: 16, outChannels: 16, textDim: 32,
                                     textLength: 8, frequencyDim: 32)

    /// One forward of the same f32 weights, resident and streamed; returns both outputs' bits and the backend.
    func forward(_ mode: LinearMode, attention: SelfAttentionKind) throws
        -> (resident: [UInt32], streamed: [UInt32], backend: StagingBackend, model: WanDiT) {
        let c = Self.config
        let tensors = try WanDiTRandomWeights.stateDict(c, layout: .turbo, seed: 7, dtype: .f32)
        let backend = StagingBackend()
        let ctx = ComputeContext(backend: backend, dtype: .bf16)
        let x = try Tensor.host((0..<(16 * 2 * 4 * 6)).map { Float(($0 * 37) % 23) / 11 - 1 }, shape: [16, 2, 4, 6])
        let text = try Tensor.host((0..<(5 * 32)).map { Float(($0 * 13) % 17) / 8 - 1 }, shape: [5, 32])
        func run(_ residency: WeightResidency) throws -> ([UInt32], WanDiT) {
            let store = WeightStore(tensors, source: "random", backend: backend, matrixType: .bf16, linearMode: mode)
            let model = try WanDiT(store, config: c, attention: attention, blockResidency: residency)
            return (try model(x: x, timestep: 700, context: text, ctx).floats().map(\.bitPattern), model)
        }
        let resident = try run(.resident).0
        #expect(backend.uploads == 0)
        let (streamed, model) = try run(.streamed)
        return (resident, streamed, backend, model)
    }

    @Test(arguments: [LinearMode.dense, .w8a8])
    func streamedForwardEqualsResidentBitForBit(_ mode: LinearMode) throws {
        let (resident, streamed, backend, model) = try forward(mode, attention: .sla(topk: 0.5, blockQ: 8, blockK: 8))
        #expect(streamed == resident)
        #expect(!streamed.isEmpty && streamed.contains { $0 != 0 })
        // Every block's tensors came through the streamer once, one block's at a time in flight.
        var bytes = 0, tensors = 0
        for block in model.blocks { _ = try block.placed { bytes += $0.byteCount; tensors += 1; return $0 } }
        #expect(backend.uploadedBytes == bytes && backend.uploads == tensors)
        #expect(backend.mostInFlight == tensors / Self.config.numLayers)
        #expect(backend.joins == Self.config.numLayers + 1)      // one per block, and the final join
        #expect(backend.starts == Self.config.numLayers + 1)
    }

    @Test func streamedBlocksHoldHostWeightsInTheirFinalForm() throws {
        let c = Self.config
        let tensors = try WanDiTRandomWeights.stateDict(c, layout: .turbo, seed: 3, dtype: .f32)
        let cpu = CPUBackend()
        let store = WeightStore(tensors, source: "random", backend: cpu, matrixType: .bf16, linearMode: .w8a8)
        let model = try WanDiT(store, config: c, attention: .original, blockResidency: .streamed)
        guard case let .int8(values, scales) = model.blocks[0].ffnIn.storage, case let .dense(weight) = model.patchEmbedding.storage else {
            Issue.record("expected W8A8 block Linears and a dense patch embedding")
            return
        }
        #expect(values.dtype == .i8 && scales.dtype == .f32 && weight.dtype == .bf16)
        #expect(store.residency == .resident)        // the placement returns to resident after the blocks
    }
}
