import TensorCore

/// The globals a `torch.save` state dict may name, and what they mean. Anything else is
/// refused before it is even looked at (see `Unpickler`).
enum TorchGlobals {
    /// A dtype as torch names it, with our DType when we support it.
    struct TorchDType {
        let torchName: String  // "float32", "float64"...
        let dtype: DType?
        var itemSize: Int?
    }

    static let rebuildTensorV2 = "torch._utils._rebuild_tensor_v2"
    static let rebuildTensorV3 = "torch._utils._rebuild_tensor_v3"
    static let rebuildParameter = "torch._utils._rebuild_parameter"
    static let rebuildParameterWithState = "torch._utils._rebuild_parameter_with_state"
    static let untypedStorage = "torch.storage.UntypedStorage"

    /// Legacy typed storage classes (`torch.FloatStorage`...) → element dtype. torch ≥ 2 still
    /// writes these for the classic dtypes; newer dtypes (fp8) use UntypedStorage + a dtype arg.
    static let storageClasses: [String: TorchDType] = [
        "FloatStorage": TorchDType(torchName: "float32", dtype: .f32, itemSize: 4),
        "BFloat16Storage": TorchDType(torchName: "bfloat16", dtype: .bf16, itemSize: 2),
        "HalfStorage": TorchDType(torchName: "float16", dtype: .f16, itemSize: 2),
        "Float8_e4m3fnStorage": TorchDType(torchName: "float8_e4m3fn", dtype: .fp8e4m3, itemSize: 1),
        "CharStorage": TorchDType(torchName: "int8", dtype: .i8, itemSize: 1),
        "ByteStorage": TorchDType(torchName: "uint8", dtype: .u8, itemSize: 1),
        "IntStorage": TorchDType(torchName: "int32", dtype: .i32, itemSize: 4),
        "LongStorage": TorchDType(torchName: "int64", dtype: .i64, itemSize: 8),
        // Known but unsupported: loading them gives an "unsupported dtype" error naming the tensor.
        "DoubleStorage": TorchDType(torchName: "float64", dtype: nil, itemSize: 8),
        "ShortStorage": TorchDType(torchName: "int16", dtype: nil, itemSize: 2),
        "BoolStorage": TorchDType(torchName: "bool", dtype: nil, itemSize: 1),
        "ComplexFloatStorage": TorchDType(torchName: "complex64", dtype: nil, itemSize: 8),
        "ComplexDoubleStorage": TorchDType(torchName: "complex128", dtype: nil, itemSize: 16),
    ]

    /// `torch.<dtype>` globals (the dtype argument of `_rebuild_tensor_v3`).
    static let dtypes: [String: TorchDType] = {
        var m: [String: TorchDType] = [:]
        for (names, dtype, size) in [
            (["float32", "float"], DType.f32, 4), (["bfloat16"], .bf16, 2), (["float16", "half"], .f16, 2),
            (["float8_e4m3fn"], .fp8e4m3, 1), (["int8"], .i8, 1), (["uint8"], .u8, 1),
            (["int32", "int"], .i32, 4), (["int64", "long"], .i64, 8),
        ] as [([String], DType, Int)] {
            for n in names { m[n] = TorchDType(torchName: names[0], dtype: dtype, itemSize: size) }
        }
        for (n, size) in [("float64", 8), ("double", 8), ("int16", 2), ("short", 2), ("bool", 1),
                          ("uint16", 2), ("uint32", 4), ("uint64", 8), ("float8_e5m2", 1),
                          ("float8_e4m3fnuz", 1), ("float8_e5m2fnuz", 1), ("float8_e8m0fnu", 1),
                          ("complex32", 4), ("complex64", 8), ("complex128", 16)] {
            m[n] = TorchDType(torchName: n, dtype: nil, itemSize: size)
        }
        return m
    }()

    /// What is wrong with a persistent id, or nil when it has the one form torch.save's zip
    /// format writes: `('storage', storage class, key, location, numel)`, the class a typed
    /// `torch.<Type>Storage` or `torch(.storage).UntypedStorage` (torch ≥ 2.0 writes the latter
    /// with the dtype in `_rebuild_tensor_v3`).
    static func persistentIDProblem(_ v: PickleValue) -> String? {
        let form = "torch writes ('storage', storage class, key, location, numel)"
        guard case .tuple(let p) = v else { return "a persistent id of type \(v.typeName); \(form)" }
        guard p.count == 5, case .string("storage") = p[0] else {
            return "a persistent id of \(p.count) item(s)\(p.first.map { " starting with a \($0.typeName)" } ?? "") rather than 5 starting with 'storage'; \(form)"
        }
        guard case .global(let module, let cls) = p[1], module == "torch" || module == "torch.storage", cls.hasSuffix("Storage") else {
            let given = if case .global(let m, let n) = p[1] { "\(m).\(n)" } else { "of type \(p[1].typeName)" }
            return "a persistent id whose storage class is \(given), not a torch storage class; \(form)"
        }
        guard case .string = p[2], case .string = p[3] else { return "a persistent id whose key or location is not a string; \(form)" }
        guard case .int(let numel) = p[4], numel >= 0 else { return "a persistent id whose element count is not a non-negative integer; \(form)" }
        return nil
    }

    /// The allowlist. Everything a plain state dict pickle can name, nothing that runs code.
    static func isAllowed(module: String, name: String) -> Bool {
        switch module {
        case "collections": return name == "OrderedDict"
        case "torch._utils":
            return ["_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter", "_rebuild_parameter_with_state"].contains(name)
        case "torch.storage": return name == "UntypedStorage"
        case "torch": return storageClasses[name] != nil || dtypes[name] != nil || name == "UntypedStorage"
        default: return false
        }
    }

    /// Our DType names → torch dtype names (for messages).
    static func torchName(_ d: DType) -> String {
        switch d {
        case .f32: "float32"
        case .bf16: "bfloat16"
        case .f16: "float16"
        case .fp8e4m3: "float8_e4m3fn"
        case .i8: "int8"
        case .u8: "uint8"
        case .i32: "int32"
        case .i64: "int64"
        }
    }
}
