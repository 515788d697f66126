import CCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import TensorCore

/// One rank of an NCCL group: the communicator of one `CUDABackend` among the GPUs of this host
/// (docs/multi-gpu.md). Transfers run on the backend's own stream, in order with its kernels, so
/// buffers freed after an exchange are reused only by work that follows it.
///
/// All-to-all is a group of `ncclSend`/`ncclRecv` pairs, bytes as ncclUint8 (any dtype, and
/// unequal sizes per peer, which the all-gather of the sequence's shorter last shard needs).
public final class NCCLCommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    public var backend: any Backend { cuda }
    public let cuda: CUDABackend
    let library: NCCLLibrary
    let comm: ncclComm_t

    private init(rank: Int, size: Int, cuda: CUDABackend, library: NCCLLibrary, comm: ncclComm_t) {
        self.rank = rank
        self.size = size
        self.cuda = cuda
        self.library = library
        self.comm = comm
    }

    deinit {
        _ = try? cuda.activate()
        _ = library.api.ncclCommDestroy(comm)
    }

    /// "NCCL 2.28.9 (path)", or why it cannot be loaded.
    public static func libraryDescription() -> String {
        switch NCCLLibrary.shared {
        case .success(let l): "NCCL \(l.versionString) (\(l.path))"
        case .failure(let e): "\(e)"
        }
    }

    /// NCCL's version ("2.28.9") when libnccl.so.2 loads (no GPU is needed for that), else nil.
    public static var libraryVersion: String? { try? NCCLLibrary.shared.get().versionString }

    /// A group of one communicator per backend, rank i on `backends[i]`, all made from this thread
    /// (`ncclCommInitRank` per device inside one NCCL group, each with its device's context
    /// current). NVLink multicast is switched off first (NCCL_NVLS_ENABLE=0, docs/multi-gpu.md).
    public static func group(_ backends: [CUDABackend]) throws -> [NCCLCommunicator] {
        guard !backends.isEmpty else { throw TensorError.invalidArgument("an NCCL group needs at least one GPU") }
        let devices = backends.map(\.device)
        guard Set(devices).count == devices.count else {
            throw TensorError.invalidArgument("an NCCL group needs distinct GPUs, got \(devices.map(\.description).joined(separator: ", "))")
        }
        let library = try NCCLLibrary.shared.get()
        setenv("NCCL_NVLS_ENABLE", "0", 1)
        var id = ncclUniqueId()
        try library.check(library.api.ncclGetUniqueId(&id), "ncclGetUniqueId")
        var comms = [ncclComm_t?](repeating: nil, count: backends.count)
        try library.check(library.api.ncclGroupStart(), "ncclGroupStart")
        var failure: Error?
        for (r, b) in backends.enumerated() where failure == nil {
            do {
                try b.activate()
                try library.check(library.api.ncclCommInitRank(&comms[r], Int32(backends.count), id, Int32(r)), "ncclCommInitRank(rank \(r), \(b.device))")
            } catch { failure = error }
        }
        let end = library.api.ncclGroupEnd()
        if let failure { throw failure }
        try library.check(end, "ncclGroupEnd (creating \(backends.count) communicators)")
        return try backends.enumerated().map { r, b in
            guard let c = comms[r] else { throw TensorError.deviceError("ncclCommInitRank returned no communicator for rank \(r)") }
            return NCCLCommunicator(rank: r, size: backends.count, cuda: b, library: library, comm: c)
        }
    }

    /// Ends this rank's pending and future operations with an error (a peer failed and will not
    /// take part in the exchange this rank waits in).
    public func abort() {
        _ = library.api.ncclCommAbort(comm)
    }

    public func allToAll(_ send: [Tensor], receiveShapes: [[Int]]) throws -> [Tensor] {
        try validateAllToAll(send, receiveShapes: receiveShapes)
        let b = cuda, api = library.api
        let dense = try send.map { try b.contiguous($0) }
        let received = try (0..<size).map { i in
            i == rank ? try dense[rank].reshaped(receiveShapes[rank]) : try b.empty(receiveShapes[i], dtype: send[0].dtype)
        }
        try b.activate()
        try library.check(api.ncclGroupStart(), "ncclGroupStart", comm: comm)
        var failure: Error?
        for j in 0..<size where j != rank && failure == nil {
            do {
                let out = dense[j], into = received[j]
                if out.byteCount > 0 {
                    try library.check(api.ncclSend(UnsafeRawPointer(bitPattern: UInt(try b.address(out))), out.byteCount, Int32(CNCCL_UINT8),
                                                   Int32(j), comm, b.stream), "ncclSend(to rank \(j))", comm: comm)
                }
                if into.byteCount > 0 {
                    try library.check(api.ncclRecv(UnsafeMutableRawPointer(bitPattern: UInt(try b.address(into))), into.byteCount, Int32(CNCCL_UINT8),
                                                   Int32(j), comm, b.stream), "ncclRecv(from rank \(j))", comm: comm)
                }
            } catch { failure = error }
        }
        let end = api.ncclGroupEnd()
        if let failure { throw failure }
        try library.check(end, "ncclGroupEnd (all-to-all on rank \(rank))", comm: comm)
        return received
    }
}
