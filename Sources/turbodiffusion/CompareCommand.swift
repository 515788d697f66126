import ArgumentParser
import Checkpoints
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import Media
import TensorCore

/// ‖values − reference‖₂ / ‖reference‖₂ over the common prefix, in Double (the benchmarks' parity figure;
/// a zero reference counts as 1e-30).
func relativeL2(_ values: [Float], _ reference: [Float]) -> Double {
    var num = 0.0, den = 0.0
    for (a, b) in zip(values, reference) { num += Double(a - b) * Double(a - b); den += Double(b) * Double(b) }
    return (num / max(den, 1e-30)).squareRoot()
}

/// `turbodiffusion compare`: relative L2 distance of one tensor in two safetensors files, against a bound.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Relative L2 error ‖a − b‖/‖b‖ of tensor KEY of A against REF; exits 1 above --bound or on a shape mismatch.",
        discussion: "Used by scripts/cuda/gpu_checks.sh to hold the forward commands' outputs to the reference fixtures.")

    @Argument(help: "The file checked (e.g. a forward command's output).")
    var file: String

    @Argument(help: "The reference file.")
    var reference: String

    @Option(help: "Tensor name in the checked file.")
    var key = "out"

    @Option(name: .customLong("ref-key"), help: "Tensor name in the reference (default: --key).")
    var referenceKey: String?

    @Option(help: "Largest relative L2 error accepted.")
    var bound: Double

    @Option(help: "A label for the printed line.")
    var label: String?

    @Option(name: .customLong("rows-from-mask"), help: "Compare only the first n rows (first dimension), n = the number of non-zero entries of this tensor of the reference file (Wan keeps that many text rows).")
    var rowsFromMask: String?

    func run() throws {
        let a = try Checkpoint.open(path: file).tensor(key)
        let b = try Checkpoint.open(path: reference).tensor(referenceKey ?? key)
        let name = label ?? "\(file):\(key)"
        guard a.shape == b.shape else {
            print("\(name): shape \(a.shape) ≠ reference \(b.shape)  FAILED")
            throw ExitCode(1)
        }
        let (x, y) = (try a.floats(), try b.floats())
        var keep = [Bool](repeating: true, count: a.shape.first ?? 1)
        if let rowsFromMask {
            let n = try Checkpoint.open(path: reference).tensor(rowsFromMask).floats().filter { $0 != 0 }.count
            keep = keep.indices.map { $0 < n }
        }
        let rowSize = y.count / max(keep.count, 1)
        var num = 0.0, den = 0.0, finite = true
        for i in 0..<y.count where keep[i / max(rowSize, 1)] {
            let (u, v) = (Double(x[i]), Double(y[i]))
            if !u.isFinite { finite = false }
            num += (u - v) * (u - v)
            den += v * v
        }
        let error = den > 0 ? (num / den).squareRoot() : num.squareRoot()
        let ok = finite && error <= bound
        print(String(printf: "%@: relative L2 %.3e (bound %.0e)  %@", name, error, bound, ok ? "ok" : "FAILED"))
        if !ok { throw ExitCode(1) }
    }
}

/// `turbodiffusion compare-frames`: mean absolute difference of two folders of PNG frames (same names).
struct CompareFramesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare-frames",
        abstract: "Mean absolute pixel difference (levels of 255) between two folders of frames written by --frames_dir; exits 1 above --bound.")

    @Argument(help: "Folder of frames checked.")
    var folder: String

    @Argument(help: "Reference folder.")
    var reference: String

    @Option(help: "Largest mean absolute difference accepted, in levels of 255.")
    var bound: Double

    func run() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: reference).filter { $0.hasSuffix(".png") }.sorted()
        guard !names.isEmpty else { throw ValidationError("\(reference) holds no PNG frames") }
        var total = 0.0, count = 0, largest = 0
        for name in names {
            let a = try ImageDecoder.decode(path: "\(folder)/\(name)"), b = try ImageDecoder.decode(path: "\(reference)/\(name)")
            guard a.width == b.width, a.height == b.height else {
                print("\(name): \(a.width)x\(a.height) ≠ \(b.width)x\(b.height)  FAILED")
                throw ExitCode(1)
            }
            for (x, y) in zip(a.pixels, b.pixels) {
                let d = abs(Int(x) - Int(y))
                total += Double(d)
                largest = max(largest, d)
            }
            count += a.pixels.count
        }
        let mean = total / Double(count)
        let ok = mean <= bound
        print(String(printf: "%d frames: mean absolute difference %.3f levels, largest %d (bound %.2f)  %@",
                     names.count, mean, largest, bound, ok ? "ok" : "FAILED"))
        if !ok { throw ExitCode(1) }
    }
}
