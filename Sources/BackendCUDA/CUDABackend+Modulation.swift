import TensorCore

/// The Wan block's fused modulation ops (Kernels/modulation.cu): bit-identical to the
/// compositions in ModulationOps.swift, which run instead for operands the kernels do not take.
extension CUDABackend: ModulationBackend {
    public func modulatedLayerNorm(_ x: Tensor, scale: Tensor, shift: Tensor, eps: Float, outputType: DType) throws -> Tensor {
        let source = try deviceBuffer(x, "modulatedLayerNorm")
        try activate()
        let cols = x.shape.last ?? 1
        let scaleParameter = try channelParameter(scale, count: cols, "modulatedLayerNorm scale")
        let shiftParameter = try channelParameter(shift, count: cols, "modulatedLayerNorm shift")
        let dt = try floatCode(x.dtype, "modulatedLayerNorm")
        let outCode = try floatCode(outputType, "modulatedLayerNorm output")
        let out = try empty(x.shape, dtype: outputType)
        let rows = x.count / max(cols, 1)
        guard rows > 0, cols > 0, let scaleParameter, let shiftParameter else { return out }
        let l = try rowNormLaunch(x, rows: rows, cols: cols)
        // The vector path stores groups of 4 in the output's dtype: its rows must be aligned as x's are.
        let outAddress = try address(out)
        let vec = l.vec && outAddress % 16 == 0
        try launch(.modulation, "td_modulated_layer_norm", grid: l.grid, block: l.block, sharedBytes: l.sharedBytes, [
            .pointer(try address(out)), .int32(outCode), .pointer(source.address), .int32(dt), .strided(try StridedArgument(x)),
            .int64(Int64(x.strides.last ?? 1)), .int64(Int64(rows)), .int64(Int64(cols)), .int32(vec ? 1 : 0),
            .int32(l.cached ? 1 : 0), .int32(l.perWarp ? 1 : 0), .pointer(try address(scaleParameter.tensor)), .int32(scaleParameter.code),
            .pointer(try address(shiftParameter.tensor)), .int32(shiftParameter.code), .float(eps),
        ])
        return out
    }

    public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float, outputType: DType) throws -> Tensor {
        guard outputType != x.dtype else { return try layerNorm(x, weight: weight, bias: bias, eps: eps) }
        let source = try deviceBuffer(x, "layerNorm")
        try activate()
        let cols = x.shape.last ?? 1
        let weightParameter = try channelParameter(weight, count: cols, "layerNorm weight")
        let biasParameter = try channelParameter(bias, count: cols, "layerNorm bias")
        let dt = try floatCode(x.dtype, "layerNorm")
        let outCode = try floatCode(outputType, "layerNorm output")
        let out = try empty(x.shape, dtype: outputType)
        let rows = x.count / max(cols, 1)
        guard rows > 0, cols > 0 else { return out }
        let l = try rowNormLaunch(x, rows: rows, cols: cols)
        // As td_modulated_layer_norm: groups of 4 are stored in the output's dtype, so its rows must be aligned too.
        let outAddress = try address(out)
        let vec = l.vec && outAddress % 16 == 0
        try launch(.modulation, "td_layer_norm_to", grid: l.grid, block: l.block, sharedBytes: l.sharedBytes, [
            .pointer(try address(out)), .int32(outCode), .pointer(source.address), .int32(dt), .strided(try StridedArgument(x)),
            .int64(Int64(x.strides.last ?? 1)), .int64(Int64(rows)), .int64(Int64(cols)), .int32(vec ? 1 : 0),
            .int32(l.cached ? 1 : 0), .int32(l.perWarp ? 1 : 0),
        ] + (try parameterArguments(weightParameter)) + (try parameterArguments(biasParameter)) + [.float(eps)])
        return out
    }

    public func gatedResidual(_ x: Tensor, _ y: Tensor, gate: Tensor) throws -> Tensor {
        for (t, what) in [(x, "x"), (y, "y"), (gate, "gate")] { _ = try deviceBuffer(t, "gatedResidual \(what)") }
        let cols = x.shape.last ?? 1
        guard x.dtype == .f32, x.isContiguous, y.isContiguous, y.shape == x.shape, cols > 0 else {
            return try composedGatedResidual(x, y, gate: gate)
        }
        try activate()
        guard let gateParameter = try channelParameter(gate, count: cols, "gatedResidual gate") else {
            return try composedGatedResidual(x, y, gate: gate)
        }
        let yCode = try floatCode(y.dtype, "gatedResidual y")
        let out = try empty(x.shape, dtype: .f32)
        let n = x.count
        if n == 0 { return out }
        let (xa, ya, oa) = (try address(x), try address(y), try address(out))
        let vec = cols % 4 == 0 && xa % 16 == 0 && oa % 16 == 0 && ya % UInt64(4 * y.dtype.byteSize) == 0
        let (grid, block) = elementwiseGrid(vec ? (n + 3) / 4 : n)
        try launch(.modulation, "td_gated_residual", grid: grid, block: block, [
            .pointer(try address(out)), .pointer(try address(x)), .pointer(try address(y)), .int32(yCode),
            .pointer(try address(gateParameter.tensor)), .int32(gateParameter.code), .int64(Int64(n)), .int64(Int64(cols)),
            .int32(vec ? 1 : 0),
        ])
        return out
    }
}
