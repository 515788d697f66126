#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport

/// `outputs/{t2v|i2v}_{seed}_{model}_{YYYYMMDD_HHMMSS}.mp4`, the model name with `.`/`-` as `_`
/// (e.g. t2v_0_Wan2_1_1_3B_20251224_153045.mp4).
enum OutputNaming {
    static func defaultPath(task: String, seed: UInt64, model: String, date: Date = Date()) -> String {
        let safeModel = model.replacing(".", with: "_").replacing("-", with: "_")
        let base = "outputs/\(task)_\(seed)_\(safeModel)_\(formatTime(date.timeIntervalSince1970, "%Y%m%d_%H%M%S"))"
        // Two videos in the same second (the interactive session) must not overwrite each other.
        var path = base + ".mp4", n = 1
        while FileManager.default.fileExists(atPath: path) {
            path = "\(base)_\(n).mp4"
            n += 1
        }
        return path
    }
}
