#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif

/// The stages of a generation, in the order they run.
public enum GenerationStage: String, Sendable {
    case loadTextEncoder = "load text encoder", encodeText = "encode text"
    case encodeImage = "encode image"
    case loadDiT = "load DiT", denoise = "denoise"
    case loadVAE = "load VAE", decode = "decode"
    case write = "write video"
}

/// What a progress handler is told.
public struct GenerationProgress: Sendable {
    public let stage: GenerationStage
    /// Step within the stage (1-based) and the number of steps; 0/0 when the stage has no steps.
    public let step: Int, steps: Int
    /// Seconds since the generation started, and since the stage started.
    public let elapsed: Double, stageElapsed: Double
    /// Estimated seconds left in this stage, from the steps done so far (nil before the first).
    public let stageRemaining: Double?
    /// Set on the event that ends a stage.
    public let stageFinished: Bool
}

/// Returned by a progress handler: go on, or stop as soon as possible.
public enum ProgressAction: Sendable { case proceed, cancel }

public typealias ProgressHandler = (GenerationProgress) -> ProgressAction

public struct GenerationCancelled: Error, CustomStringConvertible {
    public let stage: GenerationStage
    public var description: String { "generation cancelled during \(stage.rawValue)" }
}

/// Times stages and forwards events to the handler; throws `GenerationCancelled` when asked to stop.
public final class ProgressReporter {
    private let handler: ProgressHandler
    private let start = Date()
    private var stageStart = Date()
    private var stage: GenerationStage?
    public private(set) var stageTimes: [(GenerationStage, Double)] = []

    public init(_ handler: @escaping ProgressHandler) { self.handler = handler }

    public var elapsed: Double { Date().timeIntervalSince(start) }
    /// The stage running now, or the last one begun (nil before the first).
    public private(set) var currentStage: GenerationStage?

    public func begin(_ s: GenerationStage, steps: Int = 0) throws {
        stage = s
        currentStage = s
        stageStart = Date()
        try send(s, step: 0, steps: steps, finished: false)
    }

    public func step(_ i: Int, of n: Int) throws {
        guard let stage else { return }
        try send(stage, step: i, steps: n, finished: false)
    }

    public func end() throws {
        guard let stage else { return }
        stageTimes.append((stage, Date().timeIntervalSince(stageStart)))
        try send(stage, step: 0, steps: 0, finished: true)
        self.stage = nil
    }

    private func send(_ s: GenerationStage, step: Int, steps: Int, finished: Bool) throws {
        let inStage = Date().timeIntervalSince(stageStart)
        let remaining = step > 0 && steps > 0 ? inStage / Double(step) * Double(steps - step) : nil
        let event = GenerationProgress(stage: s, step: step, steps: steps, elapsed: elapsed, stageElapsed: inStage,
                                       stageRemaining: remaining, stageFinished: finished)
        if handler(event) == .cancel { throw GenerationCancelled(stage: s) }
    }
}
