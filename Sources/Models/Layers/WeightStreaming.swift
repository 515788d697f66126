import TensorCore

/// Where a model's weights live between uses.
public enum WeightResidency: String, Sendable {
    /// On the compute device for the model's lifetime.
    case resident
    /// In host memory (the mapped file, or a host copy in the compute type or W8A8); each part is
    /// uploaded just before it runs and dropped after (docs/pipeline.md, "Memory").
    case streamed
}

/// Layers whose weights can be moved as a whole: `placed` returns the same layer with every
/// tensor passed through `move` (an upload), so a streamed forward runs exactly the resident code.
protocol WeightPlaceable {
    func placed(_ move: (Tensor) throws -> Tensor) throws -> Self
}

/// Uploads parts of a streamed model in order. On a backend that copies beside its computation
/// (`AsyncUploadBackend`), part i + 1's copy overlaps part i's work; elsewhere each part is
/// uploaded when reserved. Two parts are on the device at once: the one running and the next.
///
/// Per part: `reserve` (before enqueueing the work it should overlap: its memory is then only
/// memory that earlier work freed), `start` (after enqueueing that work), `ready` (before use).
struct WeightStreamer {
    let backend: any Backend

    func reserve<Part: WeightPlaceable>(_ part: Part) throws -> Part {
        if let async = backend as? any AsyncUploadBackend { return try part.placed { try async.reserveUpload($0) } }
        return try part.placed { try backend.upload($0) }
    }

    func start() throws {
        if let async = backend as? any AsyncUploadBackend { try async.startUploads() }
    }

    /// `part` (from `reserve`), usable by work enqueued from now on.
    func ready<Part>(_ part: Part) throws -> Part {
        if let async = backend as? any AsyncUploadBackend { try async.awaitUploads() }
        return part
    }

    /// Joins any copy still reserved or in flight into the computation (after an error too), so
    /// memory freed later is reused only after the copies into it are done.
    func finish() {
        if let async = backend as? any AsyncUploadBackend { try? async.awaitUploads() }
    }
}
