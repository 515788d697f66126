import TensorCore

/// The token ids of one prompt and its padding mask, as Wan's tokenizer returns them
/// (ids padded with 0 to the text length; mask 1 for real tokens, 0 for padding).
public struct TokenSequence: Hashable, Sendable {
    public let ids: [Int]
    /// Per position: true for a real token, false for padding (a key the attention ignores).
    public let mask: [Bool]

    /// `mask` nil: every position is a real token.
    public init(ids: [Int], mask: [Bool]? = nil) throws {
        if let mask, mask.count != ids.count {
            throw TensorError.shapeMismatch("token mask has \(mask.count) entries for \(ids.count) ids")
        }
        self.ids = ids
        self.mask = mask ?? [Bool](repeating: true, count: ids.count)
    }

    /// From tensors: ids of an integer type, shape [L] or [1, L]; mask (optional) of an
    /// integer type (i64, i32, u8; save a bool mask as uint8) or a float type, same length,
    /// every entry 0 or 1.
    public init(ids: Tensor, mask: Tensor?) throws {
        func flat(_ t: Tensor, _ what: String) throws -> Tensor {
            if t.rank == 1 { return t }
            if t.rank == 2 && t.shape[0] == 1 { return try t.selected(dim: 0, index: 0) }
            throw TensorError.shapeMismatch("'\(what)' has shape \(t.shape); expected [L] (or [1, L]) for one prompt")
        }
        let idsFlat = try flat(ids, "ids")
        guard !idsFlat.dtype.isFloatingPoint else {
            throw TensorError.invalidArgument("'ids' is \(idsFlat.dtype); token ids must be an integer type (i64, i32, u8)")
        }
        let values = try idsFlat.int64s().map { Int($0) }
        guard let mask else { try self.init(ids: values); return }
        let maskFlat = try flat(mask, "mask")
        guard maskFlat.count == values.count else {
            throw TensorError.shapeMismatch("'mask' has \(maskFlat.count) entries for \(values.count) ids")
        }
        let raw = try maskFlat.floats()
        if let bad = raw.firstIndex(where: { $0 != 0 && $0 != 1 }) {
            throw TensorError.invalidArgument("'mask' holds \(raw[bad]) at position \(bad); a mask entry is 1 (real token) or 0 (padding)")
        }
        try self.init(ids: values, mask: raw.map { $0 != 0 })
    }

    /// Number of real tokens (`mask.gt(0).sum()` in the reference): the rows Wan keeps.
    public var realLength: Int { mask.lazy.filter { $0 }.count }

    /// True when the real tokens come first and padding only after them.
    public var isPrefixMasked: Bool { !mask.dropFirst(realLength).contains(true) }
}
