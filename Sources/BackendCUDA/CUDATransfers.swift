import CCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import Dispatch
import TensorCore

/// Host-to-device copies through two pinned (page-locked) staging buffers: each chunk of the
/// source is copied by the CPU into the next buffer once that buffer's previous DMA is done, then
/// sent with an asynchronous copy, so the CPU fills one buffer while the other is in flight. A
/// pageable source would otherwise be staged by the driver through its own small buffers.
/// The buffers are allocated on first use; when pinned memory cannot be had, copies fall back
/// to pageable ones.
final class PinnedStaging {
    /// Bytes per staging buffer (and per asynchronous copy).
    static let chunkBytes = 32 << 20
    /// Tensors smaller than this are copied directly (the staging round trip would cost more).
    static let threshold = 1 << 20

    private let driver: CUDADriver
    private let context: CUcontext
    private var buffers: [(pointer: UnsafeMutableRawPointer, done: CUevent)] = []
    private var next = 0
    /// nil until first use; false after pinned memory was refused (copies stay pageable).
    private var available: Bool?

    init(driver: CUDADriver, context: CUcontext) {
        self.driver = driver
        self.context = context
    }

    deinit { release() }

    /// Frees the buffers (once their copies are done). The context must still exist: the backend
    /// calls this before its allocator releases the context.
    func release() {
        _ = driver.api.cuCtxSetCurrent(context)
        for b in buffers {
            _ = driver.api.cuEventSynchronize(b.done)
            _ = driver.api.cuEventDestroy(b.done)
            _ = driver.api.cuMemFreeHost(b.pointer)
        }
        buffers = []
        available = false
    }

    private func prepare() -> Bool {
        if let available { return available }
        for _ in 0..<2 {
            var p: UnsafeMutableRawPointer?
            var e: CUevent?
            guard driver.api.cuMemHostAlloc(&p, Self.chunkBytes, 0) == 0, let p else { break }
            guard driver.api.cuEventCreate(&e, UInt32(CCU_EVENT_DISABLE_TIMING)) == 0, let e else {
                _ = driver.api.cuMemFreeHost(p)
                break
            }
            buffers.append((p, e))
        }
        available = buffers.count == 2
        return available!
    }

    /// Enqueues the copy of `bytes` at `source` to device address `destination` on `stream`. The
    /// source may be reused or freed when this returns (every byte has been staged by then).
    func copy(to destination: UInt64, from source: UnsafeRawPointer, bytes: Int, stream: CUstream) throws {
        guard bytes >= Self.threshold, prepare() else {
            try driver.check(driver.api.cuMemcpyHtoDAsync(destination, source, bytes, stream), "cuMemcpyHtoDAsync")
            return
        }
        var offset = 0
        while offset < bytes {
            let n = min(Self.chunkBytes, bytes - offset)
            let buffer = buffers[next]
            next = (next + 1) % buffers.count
            try driver.check(driver.api.cuEventSynchronize(buffer.done), "cuEventSynchronize")
            Self.parallelCopy(to: buffer.pointer, from: source + offset, bytes: n)
            try driver.check(driver.api.cuMemcpyHtoDAsync(destination + UInt64(offset), buffer.pointer, n, stream), "cuMemcpyHtoDAsync")
            try driver.check(driver.api.cuEventRecord(buffer.done, stream), "cuEventRecord")
            offset += n
        }
    }

    /// memcpy in up to 8 slices of at least 4 MiB on several threads (one thread copies well below
    /// the PCIe rate).
    static func parallelCopy(to destination: UnsafeMutableRawPointer, from source: UnsafeRawPointer, bytes: Int) {
        let slices = max(1, min(8, bytes / (4 << 20)))
        guard slices > 1 else {
            destination.copyMemory(from: source, byteCount: bytes)
            return
        }
        let step = (bytes + slices - 1) / slices
        let (d, s) = (UInt(bitPattern: destination), UInt(bitPattern: source))
        DispatchQueue.concurrentPerform(iterations: slices) { i in
            let start = i * step, n = min(step, bytes - start)
            guard n > 0, let dp = UnsafeMutableRawPointer(bitPattern: d + UInt(start)),
                  let sp = UnsafeRawPointer(bitPattern: s + UInt(start)) else { return }
            dp.copyMemory(from: sp, byteCount: n)
        }
    }
}

extension CUDABackend: AsyncUploadBackend {
    /// Allocates now and marks the compute stream: the copy waits for the work enqueued so far,
    /// which may still read the block the allocator handed out.
    public func reserveUpload(_ t: Tensor) throws -> Tensor {
        if let b = t.buffer as? CUDABuffer, b.device == device { return t }
        guard t.buffer is HostBuffer else {
            throw TensorError.invalidArgument("upload: tensor lives on \(t.device); only host tensors can be uploaded to \(device)")
        }
        let out = try empty(t.shape, dtype: t.dtype)
        guard t.count > 0 else { return out }
        try driver.check(driver.api.cuEventRecord(transfers.computed, stream), "cuEventRecord")
        transfers.pending.append((t, out))
        return out
    }

    public func startUploads() throws {
        guard !transfers.pending.isEmpty else { return }
        try activate()
        let pending = transfers.pending
        transfers.pending = []
        try driver.check(driver.api.cuStreamWaitEvent(transfers.stream, transfers.computed, 0), "cuStreamWaitEvent")
        for (source, destination) in pending { try copyToDevice(source, into: destination, stream: transfers.stream) }
    }

    public func awaitUploads() throws {
        try startUploads()
        try activate()
        try driver.check(driver.api.cuEventRecord(transfers.copied, transfers.stream), "cuEventRecord")
        try driver.check(driver.api.cuStreamWaitEvent(stream, transfers.copied, 0), "cuStreamWaitEvent")
    }
}

/// The transfer stream of `reserveUpload`, the two events that order it with the compute stream,
/// and the reserved copies not started yet.
final class TransferQueue {
    let stream: CUstream
    /// Recorded on the compute stream before a copy; the transfer stream waits for it.
    let computed: CUevent
    /// Recorded on the transfer stream by `awaitUploads`; the compute stream waits for it.
    let copied: CUevent
    /// Host tensors (kept alive until staged) and their reserved device tensors.
    var pending: [(source: Tensor, destination: Tensor)] = []

    init(driver: CUDADriver) throws {
        var s: CUstream?, a: CUevent?, b: CUevent?
        try driver.check(driver.api.cuStreamCreate(&s, UInt32(CCU_STREAM_NON_BLOCKING)), "cuStreamCreate")
        try driver.check(driver.api.cuEventCreate(&a, UInt32(CCU_EVENT_DISABLE_TIMING)), "cuEventCreate")
        try driver.check(driver.api.cuEventCreate(&b, UInt32(CCU_EVENT_DISABLE_TIMING)), "cuEventCreate")
        guard let s, let a, let b else { throw TensorError.deviceError("cuStreamCreate/cuEventCreate returned nothing") }
        (stream, computed, copied) = (s, a, b)
    }

    func destroy(_ driver: CUDADriver) {
        _ = driver.api.cuStreamSynchronize(stream)
        _ = driver.api.cuEventDestroy(computed)
        _ = driver.api.cuEventDestroy(copied)
        _ = driver.api.cuStreamDestroy(stream)
    }
}
