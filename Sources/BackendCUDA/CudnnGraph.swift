import CCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import TensorCore

/// Values of cuDNN 9's graph API (cudnn_graph.h; stable since 9.0) that the convolution plan uses.
enum CudnnGraphAPI {
    enum Descriptor: Int32 {
        case convolution = 1, engine = 2, engineConfig = 3, engineHeuristics = 4, executionPlan = 5
        case convolutionForward = 10, operationGraph = 15, variantPack = 16, tensor = 17
    }
    enum AttributeType: Int32 {
        case handle = 0, dataType = 1, boolean = 2, int64 = 3, float = 4, voidPointer = 6, convolutionMode = 7
        case heuristicMode = 8, numericalNote = 11, descriptor = 15, behaviorNote = 19
    }
    enum Attribute: Int32 {
        case convolutionComputeType = 100, convolutionMode = 101, convolutionDilations = 102, convolutionStrides = 103
        case convolutionPostPaddings = 104, convolutionPrePaddings = 105, convolutionSpatialDims = 106
        case heuristicMode = 200, heuristicGraph = 201, heuristicResults = 202
        case engineConfigEngine = 300
        case planHandle = 400, planConfig = 401, planWorkspaceSize = 402
        case forwardAlpha = 700, forwardBeta = 701, forwardConvolution = 702, forwardW = 703, forwardX = 704, forwardY = 705
        case graphHandle = 800, graphOperations = 801
        case tensorAlignment = 900, tensorDataType = 901, tensorDims = 902, tensorStrides = 903, tensorUID = 906
        case packUIDs = 1000, packPointers = 1001, packWorkspace = 1003
        case engineGlobalIndex = 1301, engineNumericalNotes = 1303, engineBehaviorNotes = 1305
    }
    /// cudnnBackendHeurMode_t: instant (0) and fallback (2) need no trained model (modes A and B
    /// do, and B failed inside cuDNN 9.19 on an H100).
    static let heuristicModes: [Int32] = [0, 2]
    /// Numerical notes that exclude an engine: down-converted inputs, reduced-precision
    /// reductions, FFT and Winograd transforms (3, 5–8) change the rounding beyond the op
    /// catalogue's bounds, as the legacy path's GEMM-family restriction does.
    static let excludedNumericalNotes: Set<Int32> = [1, 2, 3, 5, 6, 7, 8]
    /// cudnnBackendBehaviorNote_t 0: the engine compiles kernels with NVRTC when its plan is
    /// finalized (seconds per shape on first use); such engines are left out.
    static let runtimeCompilation: Int32 = 0
}

/// An owned cuDNN backend descriptor, destroyed with the object.
final class CudnnDescriptor {
    let raw: cudnnBackendDescriptor_t
    private let api: CCUDACudnnAPI

    init(_ library: CudnnLibrary, _ kind: CudnnGraphAPI.Descriptor) throws {
        var d: cudnnBackendDescriptor_t?
        try library.check(library.api.cudnnBackendCreateDescriptor(kind.rawValue, &d), "cudnnBackendCreateDescriptor(\(kind))")
        guard let d else { throw TensorError.deviceError("cudnnBackendCreateDescriptor(\(kind)) returned nothing") }
        (raw, api) = (d, library.api)
    }

    deinit { _ = api.cudnnBackendDestroyDescriptor(raw) }

    func set<T>(_ library: CudnnLibrary, _ name: CudnnGraphAPI.Attribute, _ type: CudnnGraphAPI.AttributeType, _ values: [T]) throws {
        try values.withUnsafeBytes { bytes in
            try library.check(library.api.cudnnBackendSetAttribute(raw, name.rawValue, type.rawValue, Int64(values.count), bytes.baseAddress),
                              "cudnnBackendSetAttribute(\(name))")
        }
    }

    func set(_ library: CudnnLibrary, _ name: CudnnGraphAPI.Attribute, descriptors: [CudnnDescriptor]) throws {
        try set(library, name, .descriptor, descriptors.map { Optional($0.raw) })
    }

    func finalize(_ library: CudnnLibrary, _ what: String) throws {
        try library.check(library.api.cudnnBackendFinalize(raw), "cudnnBackendFinalize(\(what))")
    }

    /// Up to `capacity` values of a plain-typed attribute.
    func get<T: FixedWidthInteger>(_ library: CudnnLibrary, _ name: CudnnGraphAPI.Attribute, _ type: CudnnGraphAPI.AttributeType,
                                   capacity: Int, of _: T.Type) throws -> [T] {
        var values = [T](repeating: 0, count: capacity)
        var count: Int64 = 0
        try values.withUnsafeMutableBytes { bytes in
            try library.check(library.api.cudnnBackendGetAttribute(raw, name.rawValue, type.rawValue, Int64(capacity), &count, bytes.baseAddress),
                              "cudnnBackendGetAttribute(\(name))")
        }
        return Array(values.prefix(Int(min(max(count, 0), Int64(capacity)))))
    }
}

/// One finalized execution plan of a forward convolution y = conv(x, w) on the channels-last
/// operands of `CUDABackend.cudnnConv3d` (uids 1 x, 2 w, 3 y).
final class CudnnGraphPlan {
    let plan: CudnnDescriptor
    let workspaceBytes: Int
    /// The engine's index in cuDNN's global engine list (for reports).
    let engine: Int64
    /// Keeps the graph's descriptors alive as long as the plan.
    private let graph: [CudnnDescriptor]

    init(plan: CudnnDescriptor, workspaceBytes: Int, engine: Int64, graph: [CudnnDescriptor]) {
        (self.plan, self.workspaceBytes, self.engine, self.graph) = (plan, workspaceBytes, engine, graph)
    }

    /// Runs the plan on `handle` (its stream is the backend's).
    func execute(_ library: CudnnLibrary, handle: cudnnHandle_t?, x: UInt64, w: UInt64, y: UInt64, workspace: UInt64) throws {
        let pack = try CudnnDescriptor(library, .variantPack)
        try pack.set(library, .packUIDs, .int64, [Int64(1), 2, 3])
        try pack.set(library, .packPointers, .voidPointer, [x, w, y].map { UnsafeMutableRawPointer(bitPattern: UInt($0)) })
        try pack.set(library, .packWorkspace, .voidPointer, [UnsafeMutableRawPointer(bitPattern: UInt(workspace))])
        try pack.finalize(library, "variant pack")
        try library.check(library.api.cudnnBackendExecute(handle, plan.raw, pack.raw), "cudnnBackendExecute(engine \(engine))")
    }

    /// Execution plans for the convolution of `key` (NDHWC x [N, Cp, T, H, W], filter [O, Cp, kt,
    /// kh, kw], y `output` NDHWC, all in the key's type; fp32 sums), from heuristic modes instant
    /// then fallback, without excluded numerical notes or runtime compilation, within
    /// `workspaceLimit`; at most `limit`, best ranked first. Empty when cuDNN offers none.
    static func candidates(_ library: CudnnLibrary, handle: cudnnHandle_t?, key: CudnnPlanKey, cudnnType: Int32, output: [Int],
                           workspaceLimit: Int, limit: Int) throws -> [CudnnGraphPlan] {
        func channelsLastStrides(_ d: [Int]) -> [Int64] {
            let c = d[1], w = d[4] * c, h = d[3] * w, t = d[2] * h
            return [t, 1, h, w, c].map(Int64.init)
        }
        func tensor(_ uid: Int64, _ dims: [Int]) throws -> CudnnDescriptor {
            let t = try CudnnDescriptor(library, .tensor)
            try t.set(library, .tensorDataType, .dataType, [cudnnType])
            try t.set(library, .tensorDims, .int64, dims.map(Int64.init))
            try t.set(library, .tensorStrides, .int64, channelsLastStrides(dims))
            try t.set(library, .tensorUID, .int64, [uid])
            try t.set(library, .tensorAlignment, .int64, [Int64(16)])
            try t.finalize(library, "tensor \(uid) \(dims)")
            return t
        }
        let x = try tensor(1, key.input), w = try tensor(2, key.filter), y = try tensor(3, output)
        let conv = try CudnnDescriptor(library, .convolution)
        try conv.set(library, .convolutionComputeType, .dataType, [Int32(CCUDNN_DATA_FLOAT)])
        try conv.set(library, .convolutionMode, .convolutionMode, [Int32(CCUDNN_CROSS_CORRELATION)])
        try conv.set(library, .convolutionSpatialDims, .int64, [Int64(3)])
        try conv.set(library, .convolutionDilations, .int64, [Int64(1), 1, 1])
        try conv.set(library, .convolutionStrides, .int64, key.strides.map(Int64.init))
        try conv.set(library, .convolutionPrePaddings, .int64, key.pads.map(Int64.init))
        try conv.set(library, .convolutionPostPaddings, .int64, key.pads.map(Int64.init))
        try conv.finalize(library, "convolution")
        let op = try CudnnDescriptor(library, .convolutionForward)
        try op.set(library, .forwardX, descriptors: [x])
        try op.set(library, .forwardW, descriptors: [w])
        try op.set(library, .forwardY, descriptors: [y])
        try op.set(library, .forwardConvolution, descriptors: [conv])
        try op.set(library, .forwardAlpha, .float, [Float(1)])
        try op.set(library, .forwardBeta, .float, [Float(0)])
        try op.finalize(library, "convolution forward")
        let graph = try CudnnDescriptor(library, .operationGraph)
        try graph.set(library, .graphOperations, descriptors: [op])
        try graph.set(library, .graphHandle, .handle, [handle])
        try graph.finalize(library, "operation graph")
        let owned = [x, w, y, conv, op, graph]

        var plans: [CudnnGraphPlan] = [], engines: Set<Int64> = []
        for mode in CudnnGraphAPI.heuristicModes where plans.count < limit {
            let heuristics = try CudnnDescriptor(library, .engineHeuristics)
            try heuristics.set(library, .heuristicGraph, descriptors: [graph])
            try heuristics.set(library, .heuristicMode, .heuristicMode, [mode])
            guard (try? heuristics.finalize(library, "heuristics mode \(mode)")) != nil else { continue }
            var available: Int64 = 0
            try library.check(library.api.cudnnBackendGetAttribute(heuristics.raw, CudnnGraphAPI.Attribute.heuristicResults.rawValue,
                                                                   CudnnGraphAPI.AttributeType.descriptor.rawValue, 0, &available, nil),
                              "cudnnBackendGetAttribute(heuristic count)")
            let configs = try (0..<Int(min(available, 16))).map { _ in try CudnnDescriptor(library, .engineConfig) }
            var raws = configs.map { Optional($0.raw) }
            var returned: Int64 = 0
            try library.check(library.api.cudnnBackendGetAttribute(heuristics.raw, CudnnGraphAPI.Attribute.heuristicResults.rawValue,
                                                                   CudnnGraphAPI.AttributeType.descriptor.rawValue, Int64(raws.count),
                                                                   &returned, &raws),
                              "cudnnBackendGetAttribute(heuristic results)")
            for config in configs.prefix(Int(returned)) where plans.count < limit {
                guard let plan = try? Self.plan(library, handle: handle, config: config, workspaceLimit: workspaceLimit, graph: owned),
                      !engines.contains(plan.engine) else { continue }
                engines.insert(plan.engine)
                plans.append(plan)
            }
        }
        return plans
    }

    /// The finalized plan of one engine configuration, or nil when its notes exclude it or it
    /// needs more workspace than allowed.
    private static func plan(_ library: CudnnLibrary, handle: cudnnHandle_t?, config: CudnnDescriptor, workspaceLimit: Int,
                             graph: [CudnnDescriptor]) throws -> CudnnGraphPlan? {
        let engine = try CudnnDescriptor(library, .engine)
        var engineRaw: cudnnBackendDescriptor_t? = engine.raw, count: Int64 = 0
        try library.check(library.api.cudnnBackendGetAttribute(config.raw, CudnnGraphAPI.Attribute.engineConfigEngine.rawValue,
                                                               CudnnGraphAPI.AttributeType.descriptor.rawValue, 1, &count, &engineRaw),
                          "cudnnBackendGetAttribute(engine)")
        let notes = try engine.get(library, .engineNumericalNotes, .numericalNote, capacity: 16, of: Int32.self)
        let behaviour = try engine.get(library, .engineBehaviorNotes, .behaviorNote, capacity: 16, of: Int32.self)
        guard !notes.contains(where: CudnnGraphAPI.excludedNumericalNotes.contains),
              !behaviour.contains(CudnnGraphAPI.runtimeCompilation) else { return nil }
        let index = try engine.get(library, .engineGlobalIndex, .int64, capacity: 1, of: Int64.self).first ?? -1
        let plan = try CudnnDescriptor(library, .executionPlan)
        try plan.set(library, .planHandle, .handle, [handle])
        try plan.set(library, .planConfig, descriptors: [config])
        try plan.finalize(library, "execution plan (engine \(index))")
        let workspace = try plan.get(library, .planWorkspaceSize, .int64, capacity: 1, of: Int64.self).first ?? 0
        guard workspace >= 0, workspace <= Int64(workspaceLimit) else { return nil }
        return CudnnGraphPlan(plan: plan, workspaceBytes: Int(workspace), engine: index, graph: graph + [config])
    }
}

extension CUDABackend {
    /// Graph-API plans tried per convolution shape (with the legacy algorithm as one more).
    static let cudnnGraphCandidates = 6

    /// Times the legacy algorithm and every graph candidate of `plan` on the operands of its first
    /// run (one warm-up, then the best of two, CUDA events on the backend's stream, so this waits
    /// for the GPU once per shape) and keeps the fastest, remembered in `convolution.choices` (a
    /// later process takes the remembered choice without timing). The caller holds `convolution.lock`;
    /// y is overwritten by every candidate and then by the real run. A candidate that fails at
    /// launch is dropped.
    func chooseCudnnEngine(_ library: CudnnLibrary, plan: CudnnPlan, key: CudnnPlanKey, x: UInt64, w: UInt64, y: UInt64,
                           workspace: UInt64) throws {
        let candidates = plan.graphCandidates
        plan.graphCandidates = []
        // An earlier process's choice for this GPU model, cuDNN version, shape and candidate count.
        let remembered = "\(deviceName)|cuDNN \(library.versionString)|\(key.dataType) x\(key.input) w\(key.filter) "
            + "pads \(key.pads) strides \(key.strides)|\(candidates.count) candidates"
        if let known = convolution.choices.choice(for: remembered), known < candidates.count {
            plan.graph = known >= 0 ? candidates[known] : nil
            plan.rememberedChoice = true
            return
        }
        let api = library.api
        var start: CUevent?, end: CUevent?
        try driver.check(driver.api.cuEventCreate(&start, UInt32(CCU_EVENT_DEFAULT)), "cuEventCreate")
        defer { _ = driver.api.cuEventDestroy(start) }
        try driver.check(driver.api.cuEventCreate(&end, UInt32(CCU_EVENT_DEFAULT)), "cuEventCreate")
        defer { _ = driver.api.cuEventDestroy(end) }
        func time(_ run: () throws -> Void) throws -> Float {
            try run()
            var best = Float.infinity
            for _ in 0..<2 {
                try driver.check(driver.api.cuEventRecord(start, stream), "cuEventRecord")
                try run()
                try driver.check(driver.api.cuEventRecord(end, stream), "cuEventRecord")
                try driver.check(driver.api.cuEventSynchronize(end), "cuEventSynchronize")
                var ms: Float = 0
                try driver.check(driver.api.cuEventElapsedTime(&ms, start, end), "cuEventElapsedTime")
                best = min(best, ms)
            }
            return best
        }
        var timings: [(engine: Int64, milliseconds: Float)] = []
        // A legacy algorithm that fails here counts as never fastest; if nothing else runs either, the
        // caller's own legacy launch reports the failure (and remembers the shape as refused).
        let legacy = (try? time {
            var alpha: Float = 1, beta: Float = 0
            try library.check(api.cudnnConvolutionForward(
                convolution.handle, &alpha, plan.x, UnsafeRawPointer(bitPattern: UInt(x)), plan.w, UnsafeRawPointer(bitPattern: UInt(w)),
                plan.conv, plan.algorithm, UnsafeMutableRawPointer(bitPattern: UInt(workspace)), plan.workspaceBytes, &beta,
                plan.y, UnsafeMutableRawPointer(bitPattern: UInt(y))), "cudnnConvolutionForward(\(key.input) * \(key.filter))")
        }) ?? Float.infinity
        timings.append((-1, legacy))
        var best: (index: Int, milliseconds: Float)?
        for (index, candidate) in candidates.enumerated() {
            guard let ms = try? time({ try candidate.execute(library, handle: convolution.handle, x: x, w: w, y: y, workspace: workspace) })
            else { continue }
            timings.append((candidate.engine, ms))
            if ms < (best?.milliseconds ?? legacy) { best = (index, ms) }
        }
        plan.graph = best.map { candidates[$0.index] }
        plan.timings = timings
        convolution.choices.record(best?.index ?? -1, for: remembered)
    }

    /// Per cuDNN plan so far: the shape, the engine chosen ("legacy" or the graph engine's global
    /// index) and every candidate's time on the first run, for `bench conv`.
    public var cudnnEngineChoices: [String] {
        convolution.lock.withLock {
            convolution.plans.map { key, plan in
                let chosen = plan.graph.map { "graph engine \($0.engine)" } ?? "legacy algorithm \(plan.algorithm)"
                let tried = plan.rememberedChoice ? ["remembered from an earlier run"]
                    : plan.timings.map { String(printf: "%s %.3f ms", $0.engine < 0 ? "legacy" : "engine \($0.engine)", $0.milliseconds) }
                return "\(key.input) * \(key.filter): \(chosen) (\(tried.joined(separator: ", ")))"
            }.sorted()
        }
    }
}
