import SystemSupport

/// N ranks as N threads of this process exchanging tensors through host memory: the test fake of the
/// multi-GPU path (docs/multi-gpu.md), and a working group for ranks on any backends (each send is
/// copied to the host by its sender and uploaded by its receiver).
///
/// A round is: every rank deposits its sends, a barrier, every rank takes what was sent to it. Slots
/// alternate between two banks by round parity, so one barrier per round suffices: a rank can deposit
/// round k + 2 only after every rank reached round k + 1's barrier, i.e. finished reading round k.
public final class InProcessGroup: @unchecked Sendable {
    public let size: Int
    private let condition = Condition()
    private var banks: [[[Tensor]?]]
    private var arrived = 0
    private var generation = 0
    private var failure: String?

    public init(size: Int) throws {
        guard size >= 1 else { throw TensorError.invalidArgument("a communicator group needs at least one rank, not \(size)") }
        self.size = size
        banks = [[[Tensor]?]](repeating: [[Tensor]?](repeating: nil, count: size), count: 2)
    }

    /// Rank `rank`'s communicator, computing on `backend`.
    public func communicator(rank: Int, backend: any Backend) throws -> InProcessCommunicator {
        guard (0..<size).contains(rank) else { throw TensorError.invalidArgument("rank \(rank) outside a group of \(size)") }
        return InProcessCommunicator(group: self, rank: rank, backend: backend)
    }

    /// Fails every rank waiting now or later with `reason` (a rank gave up: the others must not hang).
    public func abort(_ reason: String) {
        condition.withLock {
            if failure == nil { failure = reason }
            condition.broadcast()
        }
    }

    /// Deposits rank `rank`'s sends for round `round`, waits for all ranks, returns what the others sent it.
    func exchange(rank: Int, round: Int, sends: [Tensor]) throws -> [Tensor] {
        let bank = round & 1
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw TensorError.deviceError("\(RankThreads.abortedMarker): \(failure)") }
        banks[bank][rank] = sends
        arrived += 1
        let mine = generation
        if arrived == size {
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == mine && failure == nil { condition.wait() }
            if generation == mine, let failure { throw TensorError.deviceError("\(RankThreads.abortedMarker): \(failure)") }
        }
        return (0..<size).map { banks[bank][$0]![rank] }
    }

    /// Runs `body(rank)` for every rank on its own thread (`RankThreads.run`), aborting the group
    /// when one fails.
    public func run<T>(_ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
        try RankThreads.run(count: size, onFailure: { self.abort($0) }, body)
    }
}

/// One rank of an `InProcessGroup`.
public final class InProcessCommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public let backend: any Backend
    public var size: Int { group.size }
    let group: InProcessGroup
    /// Collective calls made so far (the round's bank parity); touched by this rank's thread only.
    private var round = 0

    init(group: InProcessGroup, rank: Int, backend: any Backend) {
        self.group = group
        self.rank = rank
        self.backend = backend
    }

    public func allToAll(_ send: [Tensor], receiveShapes: [[Int]]) throws -> [Tensor] {
        do {
            try validateAllToAll(send, receiveShapes: receiveShapes)
        } catch {
            group.abort("rank \(rank): \(error)")
            throw error
        }
        let b = backend
        let staged = try send.enumerated().map { j, t in j == rank ? t : try b.toHost(b.contiguous(t)) }
        let received = try group.exchange(rank: rank, round: round, sends: staged)
        round += 1
        return try received.enumerated().map { i, t in
            guard t.count == receiveShapes[i].reduce(1, *) else {
                let error = TensorError.shapeMismatch("allToAll: rank \(i) sent rank \(rank) \(t.shape), which expected \(receiveShapes[i])")
                group.abort("\(error)")
                throw error
            }
            let local = i == rank ? t : try b.upload(t)
            return try b.contiguous(local).reshaped(receiveShapes[i])
        }
    }
}
