import TensorCore

/// Reads a `torch.save` zip archive: `<prefix>data.pkl` (a restricted pickle of the state
/// dict), `<prefix>data/<key>` (one raw little-endian storage per key), `<prefix>byteorder`.
/// Tensors are views over zero-copy buffers, one buffer per storage, so several tensors
/// that shared a storage in PyTorch share one buffer here too.
struct TorchArchive {
    var tensors: [NamedTensor] = []
    var notes: [String] = []
    /// The archive's name prefix, e.g. "archive/" (torch uses the file's base name).
    var prefix = ""
    var storageCount = 0
    /// Storage location tags seen ("cpu", "cuda:0"...), with how many storages carry each.
    var locations: [String: Int] = [:]

    init(file: MappedFile) throws {
        let view = ByteView(bytes: file.bytes, name: basename(file.path))
        do {
            try read(file: file, view: view)
        } catch let e as CheckpointError {
            throw e.at(file.path)
        }
    }

    private mutating func read(file: MappedFile, view: ByteView) throws {
        let zip = try ZipArchive(view)
        let pickles = zip.entries.filter { $0.name == "data.pkl" || $0.name.hasSuffix("/data.pkl") }
        guard pickles.count == 1, let pkl = pickles.first else {
            if pickles.isEmpty {
                let names = zip.entries.prefix(5).map(\.name).joined(separator: ", ")
                throw CheckpointError(.notACheckpoint, path: "",
                                      "not a checkpoint: a zip archive without a data.pkl entry, so not written by torch.save (entries: \(names)\(zip.entries.count > 5 ? ", …" : ""))")
            }
            throw CheckpointError(.unsupported, path: "",
                                  "the zip archive holds several pickles (\(pickles.map(\.name).joined(separator: ", "))); expected one torch.save archive")
        }
        prefix = String(pkl.name.dropLast("data.pkl".count))
        if let order = zip.entry(prefix + "byteorder") {
            let b = try zip.data(of: order, verifyCRC: true)
            let text = String(decoding: b.bytes, as: UTF8.self)
            guard text == "little" else {
                throw CheckpointError(.unsupported, path: "", "the archive's byteorder entry says '\(text.prefix(20))'; only little-endian checkpoints are supported")
            }
        }
        let pickleBytes = try zip.data(of: pkl, verifyCRC: true)
        var unpickler = Unpickler(pickleBytes) { TorchGlobals.isAllowed(module: $0, name: $1) }
        defer { unpickler.dismantle() }  // after the tensors are built; also on errors
        let root = try unpickler.load()

        var builder = TensorBuilder(file: file, zip: zip, prefix: prefix)
        guard case .dict(let top) = root else {
            throw CheckpointError(.unsupported, path: "", "the pickle holds a \(root.typeName), not a dict of tensors (a state dict)")
        }
        var flattener = Flattener(builder: builder)
        try flattener.flatten(top, prefix: "", depth: 0)
        builder = flattener.builder
        tensors = flattener.out
        storageCount = builder.storages.count
        for s in builder.storages.values { locations[s.location, default: 0] += 1 }
        if !flattener.nestedPrefixes.isEmpty {
            notes.append("nested dicts flattened with '.': \(list(flattener.nestedPrefixes))")
        }
        if !flattener.skipped.isEmpty {
            notes.append("skipped non-tensor entries: \(list(flattener.skipped))")
        }
        let devices = locations.keys.filter { $0 != "cpu" }.sorted()
        if !devices.isEmpty {
            notes.append("storages saved from \(devices.joined(separator: ", ")); loaded into host memory")
        }
    }

    private func list(_ items: [String]) -> String {
        items.count <= 8 ? items.joined(separator: ", ") : items.prefix(8).joined(separator: ", ") + ", … (\(items.count) in all)"
    }
}

/// Walks the unpickled value tree and collects tensors with dotted names.
private struct Flattener {
    var builder: TensorBuilder
    var out: [NamedTensor] = []
    var seen: Set<String> = []
    var nestedPrefixes: [String] = []
    var skipped: [String] = []

    init(builder: TensorBuilder) { self.builder = builder }

    mutating func flatten(_ dict: PickleDict, prefix: String, depth: Int) throws {
        for (k, v) in zip(dict.keys, dict.values) {
            let key: String
            switch k {
            case .string(let s): key = s
            case .int(let n): key = String(n)
            default: throw CheckpointError(.unsupported, path: "", "a dict key at '\(prefix)' is a \(k.typeName), not a string")
            }
            try visit(v, name: prefix.isEmpty ? key : prefix + "." + key, depth: depth)
        }
    }

    private mutating func visit(_ v: PickleValue, name: String, depth: Int) throws {
        guard depth < 32 else {
            throw CheckpointError(.unsupported, path: "", "containers nested deeper than 32 levels at '\(name)'")
        }
        switch v {
        case .dict(let d):
            nestedPrefixes.append(name)
            try flatten(d, prefix: name, depth: depth + 1)
        case .reduced(let call):
            let t = try builder.tensor(call, name: name)
            guard seen.insert(name).inserted else {
                throw CheckpointError(.inconsistent, path: "", "two tensors are named '\(name)' after flattening nested dicts")
            }
            out.append(NamedTensor(name: name, tensor: t))
        case .list(let l) where l.items.contains(where: Self.holdsTensors):
            for (i, item) in l.items.enumerated() { try visit(item, name: "\(name).\(i)", depth: depth + 1) }
        case .tuple(let items) where items.contains(where: Self.holdsTensors):
            for (i, item) in items.enumerated() { try visit(item, name: "\(name).\(i)", depth: depth + 1) }
        default:
            skipped.append("\(name) (\(v.typeName))")
        }
    }

    private static func holdsTensors(_ v: PickleValue) -> Bool {
        switch v {
        case .reduced, .dict: true
        default: false
        }
    }
}

/// Turns `_rebuild_tensor_v2/v3` and `_rebuild_parameter*` records into tensors.
private struct TensorBuilder {
    struct Storage {
        let buffer: HostBuffer
        let dtype: DType
        let location: String
        let className: String
    }

    let file: MappedFile
    let zip: ZipArchive
    let prefix: String
    var storages: [String: Storage] = [:]

    init(file: MappedFile, zip: ZipArchive, prefix: String) {
        self.file = file
        self.zip = zip
        self.prefix = prefix
    }

    mutating func tensor(_ call: PickleCall, name: String) throws -> Tensor {
        let a = call.args
        switch call.function {
        case TorchGlobals.rebuildParameter, TorchGlobals.rebuildParameterWithState:
            guard let first = a.first, case .reduced(let inner) = first,
                  a.count == (call.function == TorchGlobals.rebuildParameter ? 3 : 4) else {
                throw bad(name, "\(call.function) with unexpected arguments")
            }
            return try tensor(inner, name: name)
        case TorchGlobals.rebuildTensorV2, TorchGlobals.rebuildTensorV3:
            let v3 = call.function == TorchGlobals.rebuildTensorV3
            guard a.count == (v3 ? 7 : 6) || a.count == (v3 ? 8 : 7) else {
                throw bad(name, "\(call.function) with \(a.count) arguments")
            }
            guard case .persistent(let pid) = a[0] else { throw bad(name, "a tensor whose storage is a \(a[0].typeName)") }
            guard case .int(let offset) = a[1] else { throw bad(name, "a storage offset that is a \(a[1].typeName)") }
            let shape = try ints(a[2], name, "size")
            let strides = try ints(a[3], name, "stride")
            var explicit: TorchGlobals.TorchDType?
            if v3 {
                guard case .global(let m, let n) = a[6], m == "torch", let d = TorchGlobals.dtypes[n] else {
                    throw bad(name, "a dtype argument that is a \(a[6].typeName)")
                }
                explicit = d
            }
            let storage = try resolve(pid, dtype: explicit, name: name)
            guard shape.count == strides.count else {
                throw bad(name, "size \(shape) with \(strides.count) strides")
            }
            let numel = storage.buffer.byteCount / storage.dtype.byteSize
            guard let extent = Checked.viewExtent(shape: shape, strides: strides, offset: offset), extent <= numel else {
                throw CheckpointError(.corrupt, path: "",
                                      "tensor '\(name)': view size \(shape) stride \(strides) offset \(offset) reaches beyond its storage of \(numel) elements")
            }
            return try Tensor(buffer: storage.buffer, dtype: storage.dtype, shape: shape, strides: strides, offset: offset)
        default:
            throw CheckpointError(.unsupported, path: "", "entry '\(name)' is the result of \(call.function), not a tensor")
        }
    }

    /// `('storage', storage_class, key, location, numel)` → a buffer over `<prefix>data/<key>`.
    private mutating func resolve(_ pid: PickleValue, dtype explicit: TorchGlobals.TorchDType?, name: String) throws -> Storage {
        guard case .tuple(let p) = pid, p.count == 5, case .string("storage") = p[0],
              case .global(let module, let cls) = p[1], case .string(let key) = p[2],
              case .string(let location) = p[3], case .int(let numel) = p[4], numel >= 0 else {
            throw bad(name, "a persistent id that is not ('storage', class, key, location, numel)")
        }
        let className = "\(module).\(cls)"
        let torchType: TorchGlobals.TorchDType
        if cls == "UntypedStorage" {
            // Untyped storages count bytes; the element type is the dtype argument of v3.
            guard let e = explicit else { throw bad(name, "an untyped storage without a dtype") }
            torchType = e
        } else {
            guard module == "torch", let t = TorchGlobals.storageClasses[cls] else {
                throw bad(name, "storage class \(className)")
            }
            if let e = explicit, e.torchName != t.torchName {
                throw bad(name, "dtype \(e.torchName) over a \(className)")
            }
            torchType = t
        }
        guard let dtype = torchType.dtype else {
            throw CheckpointError(.unsupported, path: "",
                                  "unsupported dtype: tensor '\(name)' is \(torchType.torchName) (\(className)); supported dtypes are f32, bf16, f16, fp8e4m3 (float8_e4m3fn), i8, u8, i32, i64")
        }
        if let s = storages[key] {
            guard s.dtype == dtype else {
                throw CheckpointError(.corrupt, path: "", "storage '\(key)' is used as \(TorchGlobals.torchName(s.dtype)) and as \(TorchGlobals.torchName(dtype)) (tensor '\(name)')")
            }
            return s
        }
        let entryName = prefix + "data/" + key
        guard let entry = zip.entry(entryName) else {
            throw CheckpointError(.corrupt, path: "", "tensor '\(name)' needs storage entry '\(entryName)', which the archive does not contain")
        }
        let bytes = try zip.data(of: entry)
        let byteCount = cls == "UntypedStorage" ? numel : Checked.mul(numel, dtype.byteSize)
        // torch.load reads a record into a storage of exactly numel × element size bytes and
        // refuses a record of any other size.
        guard let byteCount, byteCount % dtype.byteSize == 0, byteCount == bytes.count else {
            throw CheckpointError(.corrupt, path: "",
                                  "storage '\(entryName)' holds \(bytes.count) bytes but tensor '\(name)' declares \(numel) elements of \(TorchGlobals.torchName(dtype))"
                                  + (byteCount.map { " (\($0) bytes)" } ?? "") + "; the sizes must match")
        }
        let buffer = try elementBuffer(file, offset: fileOffset(of: bytes, in: file), length: byteCount, itemSize: dtype.byteSize)
        let s = Storage(buffer: buffer, dtype: dtype, location: location, className: className)
        storages[key] = s
        return s
    }

    private func ints(_ v: PickleValue, _ name: String, _ what: String) throws -> [Int] {
        let items: [PickleValue]
        switch v {
        case .tuple(let t): items = t
        case .list(let l): items = l.items
        default: throw bad(name, "a \(what) that is a \(v.typeName)")
        }
        return try items.map {
            guard case .int(let n) = $0, n >= 0 else { throw bad(name, "a \(what) entry that is not a non-negative integer") }
            return n
        }
    }

    private func bad(_ name: String, _ what: String) -> CheckpointError {
        CheckpointError(.corrupt, path: "", "tensor '\(name)': unexpected \(what) in the pickle")
    }
}

func basename(_ path: String) -> String {
    path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
}
