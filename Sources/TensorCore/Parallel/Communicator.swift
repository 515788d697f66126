/// A group of `size` ranks that exchange tensors (docs/multi-gpu.md). Rank r computes on `backend`;
/// tensors passed in and returned live there.
///
/// Every call is collective: all ranks of the group make the same calls in the same order, each
/// from its own thread. A rank that skips a call, or throws before it, leaves the others waiting
/// (`InProcessGroup` turns that into an error; NCCL into a hang that `NCCLCommunicator.abort` ends).
public protocol Communicator: AnyObject, Sendable {
    var rank: Int { get }
    var size: Int { get }
    var backend: any Backend { get }

    /// send[j] goes to rank j (any view, of one dtype for all j); returns received[i], the tensor rank i
    /// sent to this rank, contiguous, with shape `receiveShapes[i]` and the send dtype. Every rank must
    /// know what it receives: receiveShapes[i] must have the element count of rank i's send[rank].
    func allToAll(_ send: [Tensor], receiveShapes: [[Int]]) throws -> [Tensor]
}

extension Communicator {
    /// Every rank's `x`, in rank order (shapes[i]: rank i's shape; shapes may differ between ranks).
    public func allGather(_ x: Tensor, shapes: [[Int]]) throws -> [Tensor] {
        try allToAll([Tensor](repeating: x, count: size), receiveShapes: shapes)
    }

    /// Checks the arguments of `allToAll` that a rank can check alone.
    public func validateAllToAll(_ send: [Tensor], receiveShapes: [[Int]]) throws {
        guard send.count == size, receiveShapes.count == size else {
            throw TensorError.invalidArgument("allToAll on rank \(rank) of \(size): \(send.count) tensors to send and \(receiveShapes.count) receive shapes, expected \(size) of each")
        }
        guard let dtype = send.first?.dtype, send.allSatisfy({ $0.dtype == dtype }) else {
            throw TensorError.invalidArgument("allToAll on rank \(rank): the tensors to send differ in dtype (\(send.map(\.dtype)))")
        }
        for t in send where t.device != backend.device {
            throw TensorError.invalidArgument("allToAll on rank \(rank): a tensor on \(t.device), the communicator computes on \(backend.device)")
        }
        guard send[rank].count == receiveShapes[rank].reduce(1, *) else {
            throw TensorError.shapeMismatch("allToAll on rank \(rank): sends itself \(send[rank].shape) but expects \(receiveShapes[rank])")
        }
    }
}
