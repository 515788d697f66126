#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import Media
import Pipeline

/// What runs a job: the engine side (`turbodiffusion webui` loads models and generates; tests may
/// use a fake). Called from the worker thread only, one job at a time.
public protocol JobExecutor: AnyObject, Sendable {
    /// The models and whether their files are present.
    func models() -> [ModelInfo]
    /// Generates the video of `request` (with the decoded upload for I2V) and writes it atomically
    /// to `outputPath`, and, when `framesDirectory` is given, every frame into it as
    /// `frame_00000.png`, … . `progress` returns `.cancel` when the job is to stop; throw
    /// `GenerationCancelled` then.
    func run(_ request: JobRequest, image: RGBImage?, outputPath: String, framesDirectory: String?,
             progress: @escaping ProgressHandler) throws
    /// Unloads every model and frees device memory; returns what was done, in words.
    func release() -> String
}

/// The bounded job queue and its single worker thread: jobs run in the order they were accepted;
/// a full queue refuses new ones (429). Every state change is persisted and published to SSE.
public final class JobQueue: @unchecked Sendable {
    let store: JobStore
    let hub: EventHub
    let executor: any JobExecutor
    let uploads: Uploads
    let outputs: Outputs
    let frames: FrameStore
    let log: (String) -> Void
    public let capacity: Int

    private let condition = Condition()
    private var pending: [String] = []
    private var running: String?
    private var cancelRequested = false
    private var releaseWaiters: [CheckedContinuation<String, Never>] = []
    private var stopping = false

    public init(store: JobStore, hub: EventHub, executor: any JobExecutor, uploads: Uploads, outputs: Outputs,
                frames: FrameStore, capacity: Int = 16, log: @escaping (String) -> Void) {
        self.store = store
        self.hub = hub
        self.executor = executor
        self.uploads = uploads
        self.outputs = outputs
        self.frames = frames
        self.capacity = capacity
        self.log = log
    }

    public func start() {
        startThread(name: "td-worker", stackSize: 16 << 20) { [self] in loop() }
    }

    /// Accepts a job or throws 429 when `capacity` jobs already wait.
    public func submit(_ request: JobRequest) throws -> JobRecord {
        let record = JobRecord(id: JobRecord.newID(), request: request)
        try condition.withLock {
            guard !stopping else { throw APIError(.serviceUnavailable, "the server is shutting down") }
            guard pending.count < capacity else {
                throw APIError(.tooManyRequests, "the queue is full (\(capacity) jobs wait); try again when one has finished")
            }
            try store.insert(record)
            pending.append(record.id)
            condition.signal()
        }
        log("job \(record.id) queued: \(request.task) \(request.model) seed \(request.seed) \"\(request.prompt.prefix(80))\"")
        return record
    }

    public enum CancelOutcome { case cancelled(JobRecord), stopping(JobRecord), alreadyFinished(JobRecord) }

    /// A queued job is cancelled at once; a running one stops at its next step.
    public func cancel(_ id: String) throws -> CancelOutcome {
        guard let record = store.get(id) else { throw APIError.notFound("job \(id)") }
        return try condition.withLock {
            if let i = pending.firstIndex(of: id) {
                pending.remove(at: i)
                let r = try finish(id, .cancelled, error: "cancelled before it started")
                return .cancelled(r ?? record)
            }
            // The job's terminal record is saved before the loop clears `running`: a job that has
            // just ended is finished, not stopping.
            let current = store.get(id) ?? record
            if running == id && !current.status.isTerminal {
                cancelRequested = true
                return .stopping(current)
            }
            return .alreadyFinished(current)
        }
    }

    /// Cancels the running job (queued ones stay), then unloads the models between jobs.
    public func restart() async -> String {
        await withCheckedContinuation { c in
            condition.withLock {
                if running != nil { cancelRequested = true }
                releaseWaiters.append(c)
                condition.signal()
            }
        }
    }

    public var queuedCount: Int { condition.withLock { pending.count } }
    public var runningID: String? { condition.withLock { running } }

    /// Stops taking jobs and asks the running one to stop.
    public func shutdown() {
        condition.withLock {
            stopping = true
            if running != nil { cancelRequested = true }
            condition.signal()
        }
    }

    private func loop() {
        while true {
            condition.lock()
            while pending.isEmpty && releaseWaiters.isEmpty && !stopping { condition.wait() }
            if stopping { condition.unlock(); return }
            if !releaseWaiters.isEmpty {
                let waiters = releaseWaiters
                releaseWaiters = []
                condition.unlock()
                let said = executor.release()
                log("restart: \(said)")
                for w in waiters { w.resume(returning: said) }
                continue
            }
            let id = pending.removeFirst()
            running = id
            cancelRequested = false
            condition.unlock()
            execute(id)
            condition.withLock { running = nil }
        }
    }

    private func execute(_ id: String) {
        let record: JobRecord
        do {
            guard let r = try store.update(id, { $0.status = .running; $0.startedAt = Date(); $0.progress = JobProgress(stage: "queued") }) else { return }
            record = r
        } catch {
            // The record could not be saved (a full disk): end the job rather than leave it queued forever.
            _ = try? finish(id, .failed, error: "\(error)")
            log("job \(id) failed: \(error)")
            return
        }
        hub.publish(record)
        let request = record.request
        let name = Self.outputName(request, id: id)
        log("job \(id) started")
        var tracker = ProgressTracker(task: request.task)
        do {
            let image = try request.image.map { try uploads.image($0) }
            let framesDirectory = request.frames ? frames.folder(id) : nil
            try executor.run(request, image: image, outputPath: outputs.path(name), framesDirectory: framesDirectory) { [self] p in
                let progress = tracker.update(p)
                // Progress is published at once but persisted only at stage ends: a crash loses at most a stage's steps.
                if let r = try? store.update(id, persist: p.stageFinished, { $0.progress = progress }) { hub.publish(r) }
                return condition.withLock { cancelRequested } ? .cancel : .proceed
            }
            let done = JobProgress(stage: "done", step: 0, steps: 0, fraction: 1, etaSeconds: 0)
            let frameCount = request.frames ? frames.count(id) : nil
            if request.frames { frames.prune() }
            _ = try finish(id, .succeeded, progress: done, output: JobOutput(name: name, url: Outputs.url(name), frames: frameCount))
            log("job \(id) succeeded: \(name)")
        } catch let e as GenerationCancelled {
            if request.frames { frames.remove(id) }
            _ = try? finish(id, .cancelled, error: "\(e); nothing was written")
            log("job \(id) cancelled")
        } catch {
            if request.frames { frames.remove(id) }
            _ = try? finish(id, .failed, error: "\(error)")
            log("job \(id) failed: \(error)")
        }
    }

    @discardableResult
    private func finish(_ id: String, _ status: JobStatus, progress: JobProgress? = nil, output: JobOutput? = nil, error: String? = nil) throws -> JobRecord? {
        let r = try store.update(id) {
            $0.status = status
            $0.finishedAt = Date()
            if let progress { $0.progress = progress }
            $0.output = output
            $0.error = error
        }
        if let r { hub.publish(r) }
        return r
    }

    /// `{t2v|i2v}_{seed}_{model}_{job id}.mp4`, the model name with `.`/`-` as `_` (as the CLI names files).
    static func outputName(_ r: JobRequest, id: String) -> String {
        let model = r.model.replacing(".", with: "_").replacing("-", with: "_")
        return "\(r.task)_\(r.seed)_\(model)_\(id).mp4"
    }
}

/// Turns stage events into a job's overall progress. `fraction` is a weighted sum over the stages
/// the task runs (the DiT's steps weigh most) and never decreases. `eta_s` comes from the last
/// stage with steps: its seconds per unit of weight times the weight left; between such events it
/// counts down; nil before the first step.
struct ProgressTracker {
    static let weights: [GenerationStage: Double] = [
        .loadTextEncoder: 0.05, .encodeText: 0.05, .encodeImage: 0.05, .loadDiT: 0.1, .denoise: 0.55,
        .loadVAE: 0.05, .decode: 0.15, .write: 0.05,
    ]
    let total: Double
    var finished = 0.0
    var best = 0.0
    var finishedStages: Set<String> = []
    var estimate: (eta: Double, at: Date)?

    init(task: String) {
        total = Self.weights.values.reduce(0, +) - (task == "i2v" ? 0 : Self.weights[.encodeImage]!)
    }

    mutating func update(_ p: GenerationProgress) -> JobProgress {
        let w = Self.weights[p.stage] ?? 0
        if p.stageFinished {
            if finishedStages.insert(p.stage.rawValue).inserted { finished += w }
        }
        let partial = p.stageFinished || p.steps == 0 ? 0 : w * Double(p.step) / Double(p.steps)
        let done = finished + partial
        best = max(best, min(0.99, done / total))
        if !p.stageFinished, p.steps > 0, p.step > 0, partial > 0 {
            let secondsPerWeight = p.stageElapsed / partial
            estimate = (secondsPerWeight * max(0, total - done), Date())
        }
        let eta = estimate.map { max(0, $0.eta - Date().timeIntervalSince($0.at)) }
        return JobProgress(stage: p.stage.rawValue, step: p.step, steps: p.steps, fraction: (best * 1000).rounded() / 1000,
                           etaSeconds: eta.map { ($0 * 10).rounded() / 10 })
    }
}
