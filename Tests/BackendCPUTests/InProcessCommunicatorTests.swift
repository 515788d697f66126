import Testing
import TensorCore
import BackendCPU

/// `InProcessGroup` (the multi-GPU path's test communicator, docs/multi-gpu.md): N ranks as N threads.
@Suite struct InProcessCommunicatorTests {
    /// Rank i sends rank j a [i + 1, j + 1] tensor of 100·i + j + round.
    static func payload(from i: Int, to j: Int, round: Int) throws -> Tensor {
        try Tensor.host([Float](repeating: Float(100 * i + j + round), count: (i + 1) * (j + 1)), shape: [i + 1, j + 1])
    }

    @Test(arguments: [1, 2, 3, 4])
    func allToAllDeliversEachPartToItsRank(_ n: Int) throws {
        let group = try InProcessGroup(size: n)
        // Many rounds: the two slot banks alternate, and a fast rank must not overwrite a slow one's input.
        let rounds = 40
        let ok = try group.run { r in
            let comm = try group.communicator(rank: r, backend: CPUBackend())
            for round in 0..<rounds {
                let sends = try (0..<n).map { try Self.payload(from: r, to: $0, round: round) }
                let got = try comm.allToAll(sends, receiveShapes: (0..<n).map { [$0 + 1, r + 1] })
                for (i, t) in got.enumerated() {
                    guard t.shape == [i + 1, r + 1], try t.floats().allSatisfy({ $0 == Float(100 * i + r + round) }) else { return false }
                }
            }
            return true
        }
        #expect(ok == [Bool](repeating: true, count: n))
    }

    @Test func stridedSendsArriveContiguousInLogicalOrder() throws {
        let group = try InProcessGroup(size: 2)
        let got = try group.run { r in
            let comm = try group.communicator(rank: r, backend: CPUBackend())
            let base = try Tensor.host((0..<6).map { Float($0 + 10 * r) }, shape: [2, 3])
            let t = try base.transposed(0, 1)                     // [3, 2], not contiguous
            return try comm.allGather(t, shapes: [[3, 2], [3, 2]]).map { try $0.floats() }
        }
        let expected: [[Float]] = [[0, 3, 1, 4, 2, 5], [10, 13, 11, 14, 12, 15]]
        #expect(got[0] == expected && got[1] == expected)
    }

    @Test func allGatherOfUnequalShards() throws {
        let group = try InProcessGroup(size: 3)
        let got = try group.run { r in
            let comm = try group.communicator(rank: r, backend: CPUBackend())
            let mine = try Tensor.host([Float](repeating: Float(r), count: 2 * (r + 1)), shape: [r + 1, 2])
            return try CPUBackend().concat(comm.allGather(mine, shapes: [[1, 2], [2, 2], [3, 2]]), dim: 0).floats()
        }
        for out in got { #expect(out == [0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]) }
    }

    @Test func aShapeMismatchFailsEveryRankNamingTheProblem() throws {
        let group = try InProcessGroup(size: 2)
        do {
            _ = try group.run { r in
                let comm = try group.communicator(rank: r, backend: CPUBackend())
                let t = try Tensor.host([1, 2, 3, 4], shape: [4])
                // Rank 0 expects 3 elements from rank 1, which sends 4.
                return try comm.allToAll([t, t], receiveShapes: r == 0 ? [[4], [3]] : [[4], [4]])
            }
            Issue.record("the mismatch must fail")
        } catch {
            #expect("\(error)".contains("rank 1 sent rank 0 [4], which expected [3]"), "\(error)")
        }
    }

    @Test func aRankThatFailsReleasesTheOthersAndItsErrorIsReported() throws {
        struct Boom: Error, CustomStringConvertible { var description: String { "boom on rank 2" } }
        let group = try InProcessGroup(size: 3)
        do {
            _ = try group.run { r in
                let comm = try group.communicator(rank: r, backend: CPUBackend())
                if r == 2 { throw Boom() }
                let t = try Tensor.host([Float(r)], shape: [1])
                return try comm.allToAll([t, t, t], receiveShapes: [[1], [1], [1]])
            }
            Issue.record("a failing rank must fail the run")
        } catch {
            #expect("\(error)" == "boom on rank 2")
        }
        // The group stays failed: a later exchange fails at once instead of waiting.
        let comm = try group.communicator(rank: 0, backend: CPUBackend())
        let t = try Tensor.host([0], shape: [1])
        do {
            _ = try comm.allToAll([t, t, t], receiveShapes: [[1], [1], [1]])
            Issue.record("an aborted group must refuse exchanges")
        } catch {
            #expect("\(error)".contains(RankThreads.abortedMarker) && "\(error)".contains("boom on rank 2"))
        }
    }

    @Test func argumentsAreChecked() throws {
        let group = try InProcessGroup(size: 1)
        let comm = try group.communicator(rank: 0, backend: CPUBackend())
        #expect(throws: TensorError.self) { try comm.allToAll([], receiveShapes: [[1]]) }
        #expect(throws: TensorError.self) { try group.communicator(rank: 1, backend: CPUBackend()) }
        #expect(throws: TensorError.self) { try InProcessGroup(size: 0) }
    }
}
