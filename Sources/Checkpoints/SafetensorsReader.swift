import TensorCore

/// safetensors dtype names ↔ ours.
enum SafetensorsDType {
    /// Every dtype name the reference library knows (the ones outside `byName` are valid files
    /// this engine cannot use; any other name is a corrupt header).
    static let known: Set<String> = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
                                     "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64"]

    static let byName: [String: DType] = [
        "F32": .f32, "BF16": .bf16, "F16": .f16, "F8_E4M3": .fp8e4m3,
        "I8": .i8, "U8": .u8, "I32": .i32, "I64": .i64,
    ]

    static func name(_ d: DType) -> String {
        switch d {
        case .f32: "F32"
        case .bf16: "BF16"
        case .f16: "F16"
        case .fp8e4m3: "F8_E4M3"
        case .i8: "I8"
        case .u8: "U8"
        case .i32: "I32"
        case .i64: "I64"
        }
    }
}

/// One `.safetensors` file: u64 LE header length N, N bytes of JSON
/// (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`),
/// then the data section; offsets are relative to its start. Tensors are zero-copy views of
/// the mapping, in the order of the JSON header.
///
/// Validated as the reference `safetensors` library validates: the header length at most 100 MB
/// and inside the file; the header UTF-8 JSON starting with `{` (trailing spaces allowed), an object
/// with unique names; known dtypes; each shape's byte size equal to its data range; the ranges,
/// sorted, tiling the data section exactly (first at 0, each where the previous ends, the last
/// at the end of the file: no overlap, no gap, no trailing bytes); `__metadata__` string → string.
struct SafetensorsFile {
    /// Headers above this are refused as implausible (the reference implementation uses the same bound).
    static let maxHeaderBytes = 100_000_000

    var tensors: [NamedTensor] = []
    var metadata: [(key: String, value: String)] = []

    init(file: MappedFile) throws {
        do {
            try read(file)
        } catch let e as CheckpointError {
            throw e.at(file.path)
        }
    }

    private struct Descriptor {
        let name: String
        let dtype: DType
        let shape: [Int]
        let begin: Int
        let end: Int
    }

    private mutating func read(_ file: MappedFile) throws {
        let view = ByteView(bytes: file.bytes, name: basename(file.path))
        guard view.count >= 8 else {
            throw CheckpointError(.truncated, path: "", "truncated: a safetensors file starts with an 8-byte header length, but the file has only \(view.count) bytes")
        }
        let n64 = try view.u64(0, "header length")
        guard n64 <= UInt64(Self.maxHeaderBytes) else {
            throw CheckpointError(.corrupt, path: "", "the header length \(n64) is implausible (more than \(Self.maxHeaderBytes) bytes)")
        }
        let n = Int(n64)
        guard n <= view.count - 8 else {
            throw CheckpointError(.truncated, path: "",
                                  "truncated: the JSON header needs \(n) bytes after the 8-byte length (a file of at least \(8 + n) bytes) but the file has only \(view.count) bytes")
        }
        let header = try view.slice(8, n, name: "header", "JSON header")
        guard n > 0, header.bytes[0] == UInt8(ascii: "{") else {
            throw CheckpointError(.corrupt, path: "", "the JSON header must start with '{' at byte 8 (the safetensors library refuses anything else), found \(n > 0 ? "byte 0x\(String(header.bytes[0], radix: 16))" : "an empty header")")
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(header.bytes)
        } catch let e as CheckpointError {
            throw CheckpointError(.corrupt, path: "", "the safetensors header is not valid JSON (\(e.message))")
        }
        guard case .object(let members) = json else {
            throw CheckpointError(.corrupt, path: "", "the safetensors header is \(json.typeName), not an object")
        }
        var descriptors: [Descriptor] = []
        for (name, value) in members {
            if name == "__metadata__" {
                guard case .object(let entries) = value else {
                    throw CheckpointError(.corrupt, path: "", "__metadata__ is \(value.typeName), not an object of strings")
                }
                for (k, v) in entries {
                    guard case .string(let s) = v else {
                        throw CheckpointError(.corrupt, path: "", "__metadata__ value '\(k)' is \(v.typeName), not a string")
                    }
                    metadata.append((k, s))
                }
                continue
            }
            descriptors.append(try Self.descriptor(name, value))
        }

        // One pass for the extent first, so a cut-off file is reported as such with the size
        // the header implies, rather than as a bad offset of whichever tensor comes first.
        let dataStart = 8 + n
        let dataLength = view.count - dataStart
        if let worst = descriptors.max(by: { $0.end < $1.end }), worst.end > dataLength {
            let implied = Checked.add(dataStart, worst.end).map(String.init) ?? "more than Int.max"
            throw CheckpointError(.truncated, path: "",
                                  "truncated or corrupt: tensor '\(worst.name)' occupies data bytes \(worst.begin)..<\(worst.end) but the data section holds only \(dataLength) bytes (the file is \(view.count) bytes; its header implies at least \(implied))")
        }
        try Self.checkLayout(descriptors, dataLength: dataLength)
        for d in descriptors {
            let buffer = try elementBuffer(file, offset: dataStart + d.begin, length: d.end - d.begin, itemSize: d.dtype.byteSize)
            tensors.append(NamedTensor(name: d.name, tensor: try Tensor(buffer: buffer, dtype: d.dtype, shape: d.shape)))
        }
    }

    private static func descriptor(_ name: String, _ value: JSONValue) throws -> Descriptor {
        func bad(_ what: String) -> CheckpointError {
            CheckpointError(.corrupt, path: "", "tensor '\(name)' in the safetensors header: \(what)")
        }
        guard case .string(let dtypeName)? = value["dtype"] else { throw bad("missing or non-string \"dtype\"") }
        guard SafetensorsDType.known.contains(dtypeName) else {
            throw bad("unknown dtype \"\(dtypeName)\" (not a safetensors dtype)")
        }
        guard let dtype = SafetensorsDType.byName[dtypeName] else {
            throw CheckpointError(.unsupported, path: "",
                                  "unsupported dtype: tensor '\(name)' is \(dtypeName); supported are F32, BF16, F16, F8_E4M3, I8, U8, I32, I64")
        }
        guard case .array(let dims)? = value["shape"] else { throw bad("missing or non-array \"shape\"") }
        let shape: [Int] = try dims.map {
            guard case .int(let d) = $0, d >= 0 else { throw bad("shape entries must be non-negative integers") }
            return d
        }
        guard case .array(let offsets)? = value["data_offsets"], offsets.count == 2,
              case .int(let begin) = offsets[0], case .int(let end) = offsets[1] else {
            throw bad("\"data_offsets\" must be [begin, end] integers")
        }
        guard begin >= 0, begin <= end else { throw bad("data_offsets [\(begin), \(end)] are not an ordered range") }
        guard let count = Checked.elementCount(shape), let bytes = Checked.mul(count, dtype.byteSize) else {
            throw bad("shape \(shape) has more elements than memory can hold")
        }
        guard end - begin == bytes else {
            throw bad("data_offsets [\(begin), \(end)] span \(end - begin) bytes but shape \(shape) of \(dtypeName) needs \(bytes)")
        }
        return Descriptor(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
    }

    /// The reference library's layout rule: sorted by (begin, end), the data ranges tile the data
    /// section. Zero-byte tensors sit anywhere a boundary is.
    private static func checkLayout(_ descriptors: [Descriptor], dataLength: Int) throws {
        func bad(_ m: String) -> CheckpointError { CheckpointError(.corrupt, path: "", m) }
        var cursor = 0
        var previous: Descriptor?
        for d in descriptors.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            if d.begin > cursor {
                throw bad("gap in the data section: bytes \(cursor)..<\(d.begin) belong to no tensor (tensor '\(d.name)' starts at \(d.begin), "
                          + (previous.map { "'\($0.name)' ends at \(cursor)" } ?? "the section starts at 0") + "); the safetensors library refuses gaps")
            }
            if d.begin < cursor, let p = previous {
                throw bad("overlapping data: tensor '\(d.name)' occupies bytes \(d.begin)..<\(d.end) of the data section, inside '\(p.name)' (\(p.begin)..<\(p.end))")
            }
            cursor = d.end
            previous = d
        }
        if cursor != dataLength {
            throw bad("\(dataLength - cursor) byte(s) at the end of the data section belong to no tensor (the data section holds \(dataLength) bytes, "
                      + (previous.map { "the last tensor '\($0.name)' ends at \(cursor)" } ?? "the header names no tensor") + "); the safetensors library refuses them")
        }
    }
}
