import Foundation
import Testing
import SystemSupport

@Suite struct PrintfTests {
    /// The C library's results (and so Foundation's `String(format:)`'s) for the forms the sources use.
    @Test func numbersReadAsCPrintf() {
        #expect(String(printf: "%.1f", 2.25) == "2.2")
        #expect(String(printf: "%6.1fs", 3.14159) == "   3.1s")
        #expect(String(printf: "[%6.1fs] %@", 12.0, "write") == "[  12.0s] write")
        #expect(String(printf: "%.3e", 0.000123456) == "1.235e-04")
        #expect(String(printf: "%.0e", 2e-2) == "2e-02")
        #expect(String(printf: "%g", 0.5) == "0.5")
        #expect(String(printf: "%.9g", 1.0 / 3.0) == "0.333333333")
        #expect(String(printf: "%d min %02d s", 3, 7) == "3 min 07 s")
        #expect(String(printf: "%016llx", UInt64(0xabc)) == "0000000000000abc")
        #expect(String(printf: "%6d|%-4d|", -42, 5) == "   -42|5   |")
        #expect(String(printf: "%7.1f%%", 99.44) == "   99.4%")
        #expect(String(printf: "%d", Int32(-7)) == "-7")
        #expect(String(printf: "%.2f GiB", Float(1.5)) == "1.50 GiB")
    }

    @Test func stringsArePaddedByWidth() {
        #expect(String(printf: "%@ and %s", "a", "b") == "a and b")
        #expect(String(printf: "%6@|", "ab") == "    ab|")
        #expect(String(printf: "%-6@|", "ab") == "ab    |")
        #expect(String(printf: "%2@|", "abcdef") == "abcdef|")
        #expect(String(printf: "%@", Substring("sub")) == "sub")
        #expect(String(printf: "100%% of %@", "é") == "100% of é")
    }

    @Test func mismatchesAreConvertedNotFatal() {
        #expect(String(printf: "%d|%.1f|%@|%x", 2.9, 3, 4.5, -1) == "2|3.0|4.5|ffffffffffffffff")
        #expect(String(printf: "%d and %@", 1) == "1 and ")
        #expect(String(printf: "%y%d %", 5) == "%y5 %")
    }

    @Test func longResultsAreNotCut() {
        let s = String(printf: "%.60f", 1.0)
        #expect(s.count == 62 && s.hasPrefix("1.000"))
    }
}

@Suite struct TextAndPathTests {
    @Test func trimming() {
        #expect("  a b \n".trimmingWhitespace() == "a b")
        #expect(" a \n".trimmingWhitespace(newlines: false) == "a \n")
        #expect("\t \n".trimmingWhitespace() == "")
        #expect(Substring("\"x y\" ").trimming(["\"", " "]) == "x y")
        #expect("ab".padded(to: 4) == "ab  " && "abcdef".padded(to: 3) == "abc")
    }

    @Test func pathsAsNSStringDidThem() {
        for (path, directory, last) in [("a/b", "a", "b"), ("/a", "/", "a"), ("a", "", "a"), ("a/b/", "a", "b"), ("/", "/", "/"),
                                        ("/x/y/z.json", "/x/y", "z.json"), ("a//b", "a", "b")] {
            #expect(Path.directory(of: path) == directory, "\(path)")
            #expect(Path.lastComponent(of: path) == last, "\(path)")
        }
        #expect(Path.join("a", "b") == "a/b" && Path.join("a/", "b") == "a/b" && Path.join("", "b") == "b" && Path.join("a", "") == "a")
    }

    @Test func timesFormatInUTC() {
        #expect(formatTime(0, "%Y%m%d_%H%M%S", utc: true) == "19700101_000000")
        #expect(formatTime(1_766_590_245.7, "%H:%M:%S", utc: true) == "15:30:45")
    }
}

@Suite struct ConcurrencyTests {
    @Test func threadsLocksAndConditions() {
        let condition = Condition()
        let lock = Lock()
        nonisolated(unsafe) var counter = 0
        nonisolated(unsafe) var finished = 0
        for _ in 0 ..< 4 {
            startThread(name: "test", stackSize: 1 << 20) {
                for _ in 0 ..< 1000 { lock.withLock { counter += 1 } }
                condition.withLock {
                    finished += 1
                    condition.broadcast()
                }
            }
        }
        condition.lock()
        while finished < 4 { condition.wait() }
        condition.unlock()
        #expect(lock.withLock { counter } == 4000)
    }

    @Test func sleepWaits() {
        let start = Date()
        sleepSeconds(0.05)
        #expect(Date().timeIntervalSince(start) >= 0.049)
    }
}

@Suite struct SubprocessTests {
    @Test func inputExitStatusAndErrorOutput() throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("td-sub-\(UUID().uuidString).log").path
        defer { unlink(log) }
        let p = try Subprocess(executable: "/bin/sh", arguments: ["-c", "wc -c >&2; exit 3"], errorPath: log)
        let bytes = Array(repeating: UInt8(ascii: "x"), count: 100_000)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { write(p.inputFD, $0.baseAddress, $0.count) }
            #expect(n > 0)
            done += max(n, 0)
        }
        let (exited, status) = p.wait()
        #expect(exited && status == 3)
        #expect(try String(contentsOfFile: log, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == "100000")
    }

    @Test func signalsAndMissingExecutables() throws {
        let p = try Subprocess(executable: "/bin/sh", arguments: ["-c", "kill -9 $$"], errorPath: "/dev/null")
        let (exited, signal) = p.wait()
        #expect(!exited && signal == 9)
        #expect(throws: Subprocess.Failure.self) { try Subprocess(executable: "/nonexistent/ffmpeg", arguments: [], errorPath: "/dev/null") }
    }
}
