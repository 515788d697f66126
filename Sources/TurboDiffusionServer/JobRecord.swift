#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport

public enum JobStatus: String, Codable, Sendable {
    case queued, running, succeeded, failed, cancelled
    public var isTerminal: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// Where a running job stands. `fraction` only grows within a job; `eta_s` is nil until it can be estimated.
public struct JobProgress: Codable, Sendable, Equatable {
    public var stage: String
    public var step: Int
    public var steps: Int
    public var fraction: Double
    public var etaSeconds: Double?

    enum CodingKeys: String, CodingKey {
        case stage, step, steps, fraction
        case etaSeconds = "eta_s"
    }

    public init(stage: String, step: Int = 0, steps: Int = 0, fraction: Double = 0, etaSeconds: Double? = nil) {
        self.stage = stage
        self.step = step
        self.steps = steps
        self.fraction = fraction
        self.etaSeconds = etaSeconds
    }
}

public struct JobOutput: Codable, Sendable, Equatable {
    public var name: String
    public var url: String
    /// How many PNG frames `/jobs/{id}/frames/{index}` serves (jobs that asked for frames only).
    public var frames: Int?
}

/// One job as the API shows it and as it is persisted.
public struct JobRecord: Codable, Sendable, Equatable {
    public var id: String
    public var status: JobStatus
    public var request: JobRequest
    public var progress: JobProgress?
    public var output: JobOutput?
    public var error: String?
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, status, request, progress, output, error
        case createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at"
    }

    public init(id: String, request: JobRequest, createdAt: Date = Date()) {
        self.id = id
        self.status = .queued
        self.request = request
        self.createdAt = createdAt
    }

    /// A fresh random id: 16 lowercase hex digits.
    public static func newID() -> String {
        String(printf: "%016llx", UInt64.random(in: 1 ... UInt64.max))
    }

    public static func isValidID(_ s: String) -> Bool {
        s.utf8.count == 16 && s.utf8.allSatisfy { (48 ... 57).contains($0) || (97 ... 102).contains($0) }
    }
}
