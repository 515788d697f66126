import Models
import TensorCore

/// The DiT on N devices with sequence parallelism (docs/multi-gpu.md): rank r holds its own copy of
/// the weights on its backend and a communicator of rank r. `velocity` is called from the
/// generator's thread like any `VelocityModel`; the inputs are copied to the host once, every rank
/// runs its share on its own thread, and rank 0's (whole) result is returned on rank 0's backend.
public final class SequenceParallelVelocityModel: VelocityModel {
    /// One rank: its model, the context it computes in, its communicator (on the context's backend).
    public struct Rank: @unchecked Sendable {
        public let model: WanDiT
        public let context: ComputeContext
        public let parallelism: SequenceParallelism
        public init(model: WanDiT, context: ComputeContext, parallelism: SequenceParallelism) {
            self.model = model
            self.context = context
            self.parallelism = parallelism
        }
    }

    public let ranks: [Rank]
    /// Called with the failing rank's error when a rank fails, to release the ranks waiting for it
    /// in an exchange (`InProcessGroup.abort`, `NCCLCommunicator.abort` on every rank).
    private let abort: @Sendable (String) -> Void

    public init(ranks: [Rank], abort: @escaping @Sendable (String) -> Void) throws {
        guard let first = ranks.first else { throw TensorError.invalidArgument("sequence parallelism needs at least one rank") }
        for (r, rank) in ranks.enumerated() {
            let comm = rank.parallelism.communicator
            guard comm.rank == r, comm.size == ranks.count else {
                throw TensorError.invalidArgument("rank \(r) was given communicator rank \(comm.rank) of \(comm.size); expected \(r) of \(ranks.count)")
            }
            guard comm.backend.device == rank.context.backend.device else {
                throw TensorError.invalidArgument("rank \(r) computes on \(rank.context.backend.device) but its communicator on \(comm.backend.device)")
            }
            guard rank.model.config == first.model.config else {
                throw TensorError.invalidArgument("rank \(r)'s DiT (\(rank.model.config)) differs from rank 0's (\(first.model.config))")
            }
        }
        try SequenceParallelism.validate(heads: first.model.config.numHeads, ranks: ranks.count)
        self.ranks = ranks
        self.abort = abort
    }

    public var backend: any Backend { ranks[0].context.backend }
    public var inChannels: Int { ranks[0].model.config.inChannels }

    public func velocity(x: Tensor, timestep: Double, context text: Tensor) throws -> Tensor {
        let hostX = try backend.toHost(x), hostText = try backend.toHost(text)
        let ranks = self.ranks
        let outputs = try RankThreads.run(count: ranks.count, onFailure: abort) { r -> Tensor? in
            let rank = ranks[r], b = rank.context.backend
            let out = try rank.model(x: b.upload(hostX), timestep: timestep, context: b.upload(hostText), rank.context,
                                     parallel: rank.parallelism)
            if r == 0 { return out }
            try b.synchronize()   // the other ranks' work is done before their threads end
            return nil
        }
        let result = outputs[0]!
        try ranks[0].context.backend.synchronize()
        return result
    }
}
