#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport

/// Which cuDNN plan won the timing of a convolution shape, remembered across processes so a new
/// process (one `t2v` run) does not time every VAE shape again. One line per shape in a text file
/// beside the kernel cache: `<choice>\t<key>`, where choice −1 is the legacy algorithm and i ≥ 0
/// the i-th graph candidate in heuristic order (deterministic for one GPU model and cuDNN version,
/// both of which are part of the key). Unreadable lines are ignored; the file is rewritten whole
/// through a temporary file and a rename, so readers never see a partial one. A missing or
/// unwritable folder only costs the timing again.
final class CudnnChoiceCache: @unchecked Sendable {
    /// The file, or nil for an in-memory cache only.
    let path: String?
    private let lock = Lock()
    private var choices: [String: Int]

    init(path: String?) {
        self.path = path
        choices = path.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }.map(Self.parse) ?? [:]
    }

    /// The file name in the kernel cache folder; the version in the name retires old formats.
    static let fileName = "cudnn-plan-choices-v1.txt"

    /// The cache in `directory` (the kernel cache's), or in memory only when nil.
    convenience init(directory: String?) {
        self.init(path: directory.map { "\($0)/\(Self.fileName)" })
    }

    func choice(for key: String) -> Int? { lock.withLock { choices[key] } }

    func record(_ choice: Int, for key: String) {
        let text: String = lock.withLock {
            choices[key] = choice
            return Self.render(choices)
        }
        guard let path else { return }
        let tmp = "\(path).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(text.utf8)) else { return }
        if rename(tmp, path) != 0 { unlink(tmp) }
    }

    /// Lines `<choice>\t<key>`; anything else is skipped.
    static func parse(_ text: String) -> [String: Int] {
        var out: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            guard let tab = line.firstIndex(of: "\t"), let choice = Int(line[..<tab]), choice >= -1 else { continue }
            let key = String(line[line.index(after: tab)...])
            if !key.isEmpty, !key.contains("\t") { out[key] = choice }
        }
        return out
    }

    static func render(_ choices: [String: Int]) -> String {
        choices.sorted { $0.key < $1.key }.map { "\($0.value)\t\($0.key)\n" }.joined()
    }
}
