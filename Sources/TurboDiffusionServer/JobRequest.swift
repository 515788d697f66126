#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport

/// A model the server can run, as `GET /models` lists it.
public struct ModelInfo: Codable, Sendable, Equatable {
    /// The `model` value of a job (upstream's names: Wan2.1-1.3B, Wan2.1-14B, Wan2.2-A14B, demo).
    public var id: String
    /// "t2v" and/or "i2v".
    public var tasks: [String]
    /// Whether every file it needs is present.
    public var available: Bool
    /// What is missing, each with where to download it (empty when available).
    public var missing: [MissingFile]
    /// Defaults a job of this model gets when it leaves the field out.
    public var defaultResolution: String?
    public var defaultSize: String?
    public var defaultFrames: Int

    public struct MissingFile: Codable, Sendable, Equatable {
        public var path: String
        public var url: String?
        public init(path: String, url: String?) { self.path = path; self.url = url }
    }

    enum CodingKeys: String, CodingKey {
        case id, tasks, available, missing
        case defaultResolution = "default_resolution", defaultSize = "default_size", defaultFrames = "default_frames"
    }

    public init(id: String, tasks: [String], available: Bool, missing: [MissingFile] = [], defaultResolution: String? = nil,
                defaultSize: String? = nil, defaultFrames: Int = 81) {
        self.id = id
        self.tasks = tasks
        self.available = available
        self.missing = missing
        self.defaultResolution = defaultResolution
        self.defaultSize = defaultSize
        self.defaultFrames = defaultFrames
    }
}

/// The body of `POST /jobs`, with upstream's flag names. Parsed field by field so every error
/// names its field; unknown fields are refused (a misspelt flag must not be silently ignored).
public struct JobRequest: Codable, Sendable, Equatable {
    public var task: String = "t2v"
    public var model: String = ""
    public var prompt: String = ""
    public var numSteps: Int = 4
    /// Chosen at random by the server when the request leaves it out (or sends null / "random").
    public var seed: UInt64 = 0
    public var resolution: String?
    public var aspectRatio: String = "16:9"
    public var size: String?
    public var numFrames: Int?
    public var attentionType: String = "sagesla"
    public var slaTopk: Double?
    public var quantLinear: Bool = false
    public var sigmaMax: Double?
    public var ode: Bool = false
    public var boundary: Double = 0.9
    public var adaptiveResolution: Bool = false
    public var numSamples: Int = 1
    /// An upload id (`POST /uploads`) for I2V.
    public var image: String?
    /// Also keep every frame as PNG, served at `/jobs/{id}/frames/{index}` (exact pixels, unlike the MP4's).
    public var frames: Bool = false

    enum CodingKeys: String, CodingKey, CaseIterable {
        case task, model, prompt, seed, resolution, size, ode, boundary, image, frames
        case numSteps = "num_steps", aspectRatio = "aspect_ratio", numFrames = "num_frames"
        case attentionType = "attention_type", slaTopk = "sla_topk", quantLinear = "quant_linear"
        case sigmaMax = "sigma_max", adaptiveResolution = "adaptive_resolution", numSamples = "num_samples"
    }

    public init() {}

    public static let fieldNames = Set(CodingKeys.allCases.map(\.rawValue))
    public static let aspectRatios = ["16:9", "9:16", "4:3", "3:4", "1:1"]
    public static let attentionTypes = ["original", "sla", "sagesla"]
    public static let seedLimit = 9_007_199_254_740_992.0
    public static let maxPromptLength = 4000, maxFrames = 161, maxSamples = 4, maxSide = 1920

    /// Parses and checks a JSON body against the models this server has.
    /// `defaultModel` is the model for each task when the body names none.
    public static func parse(_ body: Data, models: [ModelInfo], defaultModel: (String) -> String?) throws -> JobRequest {
        guard !body.isEmpty else { throw APIError(.badRequest, "the body must be a JSON object with at least \"prompt\"") }
        guard let any = try? JSONDecoder().decode(JSONValue.self, from: body) else {
            throw APIError(.badRequest, "the body is not valid JSON")
        }
        guard case .object(let o) = any else { throw APIError(.badRequest, "the body must be a JSON object") }
        let fields = JSONFields(o)
        if let unknown = o.keys.sorted().first(where: { !fieldNames.contains($0) }) {
            throw APIError.invalid(unknown, "unknown field (fields: \(fieldNames.sorted().joined(separator: ", ")))")
        }
        var r = JobRequest()
        r.task = try fields.string("task") ?? "t2v"
        guard ["t2v", "i2v"].contains(r.task) else { throw APIError.invalid("task", "must be t2v or i2v, got '\(r.task)'") }
        guard let model = try fields.string("model") ?? defaultModel(r.task) else {
            throw APIError.invalid("model", "no model for \(r.task) is configured; name one")
        }
        guard let info = models.first(where: { $0.id == model }) else {
            throw APIError.invalid("model", "unknown model '\(model)' (models: \(models.map(\.id).joined(separator: ", ")))")
        }
        guard info.tasks.contains(r.task) else {
            throw APIError.invalid("model", "\(model) does not do \(r.task) (it does \(info.tasks.joined(separator: ", ")))")
        }
        r.model = model

        guard let prompt = try fields.string("prompt"), !prompt.trimmingWhitespace().isEmpty else {
            throw APIError.invalid("prompt", "must be a non-empty string")
        }
        guard prompt.count <= maxPromptLength else { throw APIError.invalid("prompt", "longer than \(maxPromptLength) characters") }
        r.prompt = prompt
        r.numSteps = try fields.int("num_steps", in: 1 ... 4) ?? 4
        r.seed = try fields.seed("seed") ?? UInt64.random(in: 0 ..< UInt64(seedLimit))
        r.resolution = try fields.string("resolution")
        if let res = r.resolution, !["480p", "720p"].contains(res) { throw APIError.invalid("resolution", "must be 480p or 720p, got '\(res)'") }
        r.aspectRatio = try fields.string("aspect_ratio") ?? "16:9"
        guard aspectRatios.contains(r.aspectRatio) else {
            throw APIError.invalid("aspect_ratio", "must be one of \(aspectRatios.joined(separator: ", ")), got '\(r.aspectRatio)'")
        }
        r.size = try fields.string("size")
        if let s = r.size {
            guard let (w, h) = parseSize(s) else { throw APIError.invalid("size", "must look like 256x256, got '\(s)'") }
            guard w % 16 == 0, h % 16 == 0, (16 ... maxSide).contains(w), (16 ... maxSide).contains(h) else {
                throw APIError.invalid("size", "width and height must be multiples of 16 between 16 and \(maxSide), got '\(s)'")
            }
        }
        r.numFrames = try fields.int("num_frames", in: 1 ... maxFrames)
        if let f = r.numFrames, (f - 1) % 4 != 0 { throw APIError.invalid("num_frames", "must be 4n+1 (1, 5, …, 81), got \(f)") }
        r.attentionType = try fields.string("attention_type") ?? "sagesla"
        guard attentionTypes.contains(r.attentionType) else {
            throw APIError.invalid("attention_type", "must be original, sla or sagesla, got '\(r.attentionType)'")
        }
        r.slaTopk = try fields.double("sla_topk")
        if let k = r.slaTopk, !(k > 0 && k <= 1) { throw APIError.invalid("sla_topk", "must lie in (0, 1], got \(k)") }
        r.quantLinear = try fields.bool("quant_linear") ?? false
        r.sigmaMax = try fields.double("sigma_max")
        if let s = r.sigmaMax, !(s > 0 && s <= 10_000) { throw APIError.invalid("sigma_max", "must be positive (at most 10000), got \(s)") }
        r.ode = try fields.bool("ode") ?? false
        r.boundary = try fields.double("boundary") ?? 0.9
        guard r.boundary >= 0, r.boundary <= 1 else { throw APIError.invalid("boundary", "must lie in [0, 1], got \(r.boundary)") }
        r.adaptiveResolution = try fields.bool("adaptive_resolution") ?? false
        r.numSamples = try fields.int("num_samples", in: 1 ... maxSamples) ?? 1
        r.image = try fields.string("image")
        r.frames = try fields.bool("frames") ?? false
        if r.task == "t2v", r.image != nil { throw APIError.invalid("image", "only i2v jobs take an image") }
        if let id = r.image, !Uploads.isValidID(id) { throw APIError.invalid("image", "is not an upload id (POST /api/v1/uploads gives one)") }
        if r.task == "i2v", r.image == nil, model != "demo" { throw APIError.invalid("image", "an i2v job needs an upload id") }
        if r.task == "t2v", let k = ["boundary", "adaptive_resolution"].first(where: { o[$0] != nil && o[$0] != .null }) {
            throw APIError.invalid(k, "applies to i2v jobs only")
        }
        return r
    }

    public static func parseSize(_ s: String) -> (Int, Int)? {
        let parts = s.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]) else { return nil }
        return (w, h)
    }
}

/// A decoded JSON value; booleans and numbers stay apart (1 is not true).
enum JSONValue: Decodable, Equatable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }
}

/// Typed reads from a decoded JSON object, each error naming its field. JSON null counts as absent.
struct JSONFields {
    let object: [String: JSONValue]
    init(_ o: [String: JSONValue]) { object = o }

    private func value(_ k: String) -> JSONValue? {
        guard let v = object[k] else { return nil }
        if case .null = v { return nil }
        return v
    }

    func string(_ k: String) throws -> String? {
        guard let v = value(k) else { return nil }
        guard case .string(let s) = v else { throw APIError.invalid(k, "must be a string") }
        return s
    }

    func bool(_ k: String) throws -> Bool? {
        guard let v = value(k) else { return nil }
        guard case .bool(let b) = v else { throw APIError.invalid(k, "must be true or false") }
        return b
    }

    func double(_ k: String) throws -> Double? {
        guard let v = value(k) else { return nil }
        guard case .number(let d) = v, d.isFinite else { throw APIError.invalid(k, "must be a number") }
        return d
    }

    func int(_ k: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let d = try double(k) else { return nil }
        guard d == d.rounded(), d >= Double(range.lowerBound), d <= Double(range.upperBound) else {
            throw APIError.invalid(k, "must be an integer in \(range.lowerBound)…\(range.upperBound), got \(String(printf: "%g", d))")
        }
        return Int(d)
    }

    /// Seeds stay below 2^53 so that a browser's JavaScript numbers hold them exactly.
    func seed(_ k: String) throws -> UInt64? {
        guard let v = value(k) else { return nil }
        if case .string("random") = v { return nil }
        guard case .number(let d) = v, d >= 0, d == d.rounded(), d < JobRequest.seedLimit else {
            throw APIError.invalid(k, "must be an integer in 0…\(UInt64(JobRequest.seedLimit) - 1) or \"random\"")
        }
        return UInt64(d)
    }
}
