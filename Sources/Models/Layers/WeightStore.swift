import Checkpoints
import TensorCore

/// Why a model could not be built from a checkpoint. Messages name the key and both shapes.
public enum ModelLoadError: Error, CustomStringConvertible, Equatable {
    case missingKey(String, expectedShape: [Int], source: String)
    case shapeMismatch(String, expected: [Int], found: [Int], source: String)
    case unusedKeys([String], source: String)
    case unsupported(String)
    /// A config file that cannot be read or that contradicts the weights; the message names the file.
    case invalidConfig(String, source: String)

    public var description: String {
        switch self {
        case let .missingKey(k, shape, src):
            "\(src): missing tensor '\(k)' (expected shape \(shape)); is this the right checkpoint for the model?"
        case let .shapeMismatch(k, exp, found, src):
            "\(src): tensor '\(k)' has shape \(found), expected \(exp)"
        case let .unusedKeys(keys, src):
            "\(src): \(keys.count) tensor(s) were not used by the model, e.g. \(keys.prefix(5).map { "'\($0)'" }.joined(separator: ", ")); refusing to load a checkpoint that does not match"
        case let .unsupported(m): m
        case let .invalidConfig(m, src): "\(src): \(m)"
        }
    }
}

/// Hands out a checkpoint's tensors to model layers by key, strictly: every request checks the
/// shape, every key must be consumed (or explicitly ignored) by `finish()`. Tensors are moved to
/// the backend as they are taken, so a lazily mapped file is touched one layer at a time.
public final class WeightStore {
    public let source: String
    public let backend: any Backend
    /// Float weights of matrices are converted to this type when it is narrower than theirs
    /// (bf16 compute with an f32 file); f32 compute uses bf16 weights as they are (exact widening).
    public let matrixType: DType
    /// How Linear layers run: dense (quantized files are dequantized at load) or W8A8
    /// (dense files are quantized at load).
    public let linearMode: LinearMode
    /// Where weights taken now go: uploaded to `backend` (resident), or left in host memory in
    /// their final form (converted, quantized) for a streamed model to upload when it runs them.
    public private(set) var residency: WeightResidency = .resident
    private var entries: [String: Tensor] = [:]
    private var order: [String] = []
    private var used: Set<String> = []
    public private(set) var notes: [String] = []

    /// `tensors` are named by model keys (strip any checkpoint prefix first: `NamedTensor.stripping`).
    public init(_ tensors: [NamedTensor], source: String, backend: any Backend, matrixType: DType = .f32,
                linearMode: LinearMode = .dense) {
        self.source = source
        self.backend = backend
        self.matrixType = matrixType
        self.linearMode = linearMode
        for t in tensors {
            if entries[t.name] == nil { order.append(t.name) }
            entries[t.name] = t.tensor
        }
    }

    public convenience init(_ checkpoint: Checkpoint, backend: any Backend, matrixType: DType = .f32, linearMode: LinearMode = .dense) {
        self.init(checkpoint.unprefixedTensors, source: checkpoint.path, backend: backend, matrixType: matrixType,
                  linearMode: linearMode)
    }

    /// True when the checkpoint stores W8A8-quantized Linear layers.
    public var isQuantized: Bool { order.contains { $0.hasSuffix(".int8_weight") } }

    public func contains(_ key: String) -> Bool { entries[key] != nil }
    public func shape(_ key: String) -> [Int]? { entries[key]?.shape }
    public var keys: [String] { order }

    /// Runs `body` with weights placed as `residency` says, then returns to the previous placement.
    public func placing<R>(_ residency: WeightResidency, _ body: () throws -> R) rethrows -> R {
        let previous = self.residency
        self.residency = residency
        defer { self.residency = previous }
        return try body()
    }

    /// A host tensor where weights go now: uploaded to the backend, or (streamed) kept on the host.
    public func place(_ t: Tensor) throws -> Tensor {
        residency == .resident ? try backend.upload(t) : t
    }

    /// Like `take`, but leaves the tensor on the host (for load-time conversions).
    public func hostTensor(_ key: String, shape: [Int]) throws -> Tensor {
        guard let t = entries[key] else { throw ModelLoadError.missingKey(key, expectedShape: shape, source: source) }
        guard t.shape == shape else { throw ModelLoadError.shapeMismatch(key, expected: shape, found: t.shape, source: source) }
        used.insert(key)
        return t
    }

    /// The tensor stored under `key`, which must have `shape` (any of `alternatives` is also accepted).
    public func take(_ key: String, shape: [Int], alternatives: [[Int]] = []) throws -> Tensor {
        guard let t = entries[key] else { throw ModelLoadError.missingKey(key, expectedShape: shape, source: source) }
        guard t.shape == shape || alternatives.contains(t.shape) else {
            throw ModelLoadError.shapeMismatch(key, expected: shape, found: t.shape, source: source)
        }
        used.insert(key)
        return try place(t)
    }

    /// A matrix weight, converted to `matrixType` if that is narrower than the stored float type.
    public func matrix(_ key: String, shape: [Int], alternatives: [[Int]] = []) throws -> Tensor {
        let t = try take(key, shape: shape, alternatives: alternatives)
        guard t.dtype.isFloatingPoint else {
            throw ModelLoadError.unsupported("\(source): '\(key)' is \(t.dtype); expected a floating-point weight")
        }
        guard matrixType != .f32 && t.dtype == .f32 else { return t }
        // On the host the conversion rounds as the backends do (to nearest, ties to even).
        return residency == .resident ? try backend.contiguous(t, dtype: matrixType)
                                      : try Tensor.host(t.floats(), shape: t.shape, dtype: matrixType)
    }

    /// Marks keys as deliberately unused, with a note said once for the whole group.
    public func ignore(where predicate: (String) -> Bool, note: String) {
        let skipped = order.filter { predicate($0) && !used.contains($0) }
        guard !skipped.isEmpty else { return }
        used.formUnion(skipped)
        notes.append(note)
    }

    /// Fails if any tensor was neither used nor ignored.
    public func finish() throws {
        let unused = order.filter { !used.contains($0) }
        if !unused.isEmpty { throw ModelLoadError.unusedKeys(unused, source: source) }
    }
}

/// How Linear layers compute.
public enum LinearMode: Sendable {
    /// Floating-point weights (quantized checkpoints are dequantized: W = int8 · scale).
    case dense
    /// W8A8: int8 weights and activations quantized per 128×128 block at run time.
    case w8a8
}

/// The backend and the activation type a forward pass runs with.
public struct ComputeContext: @unchecked Sendable {
    public let backend: any Backend
    /// f32 (parity path) or bf16 (production path): the type of matmul inputs and outputs.
    public let dtype: DType

    public init(backend: any Backend, dtype: DType) {
        self.backend = backend
        self.dtype = dtype
    }
}
