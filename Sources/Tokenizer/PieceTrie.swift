#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif

/// A read-only prefix index over byte-string keys (vocabulary pieces, user-defined symbols).
///
/// Keys are kept sorted in one flat byte buffer. A common-prefix search narrows the range of
/// keys that share the first k bytes of the text with two binary searches per byte; within
/// such a range the key of length exactly k (if any) sorts first. Results come out shortest
/// first, which is the order both reference encoders visit the lattice in (it decides ties).
struct PieceTrie: Sendable {
    private let blob: [UInt8]
    private let starts: [Int]   // key i is blob[starts[i] ..< starts[i + 1]]
    private let values: [Int32]
    let maxKeyLength: Int
    /// Values of entries whose key repeats an earlier one (they were overridden).
    let overridden: [Int32]
    /// Darts-clone (sentencepiece) cannot match a NUL byte; the Hugging Face trie can.
    let stopsAtNUL: Bool

    var count: Int { values.count }

    /// `entries`: (key, value). For a key that occurs twice the LAST value wins
    /// (Hugging Face's token→id map); callers that must refuse duplicates check beforehand.
    init(_ entries: [(key: [UInt8], value: Int32)], stopsAtNUL: Bool) {
        // All keys in one buffer, then sort indices with memcmp (a 256k vocabulary sorts in ~0.1 s).
        var all: [UInt8] = []
        var offsets = [Int](repeating: 0, count: entries.count + 1)
        for (i, e) in entries.enumerated() {
            all.append(contentsOf: e.key)
            offsets[i + 1] = all.count
        }
        var order = Array(entries.indices)
        all.withUnsafeBufferPointer { buf in
            let base = buf.baseAddress ?? UnsafePointer(bitPattern: 1)!
            order.sort { a, b in
                let la = offsets[a + 1] - offsets[a], lb = offsets[b + 1] - offsets[b]
                let c = memcmp(base + offsets[a], base + offsets[b], min(la, lb))
                if c != 0 { return c < 0 }
                return la != lb ? la < lb : a < b  // equal keys keep file order
            }
        }
        var blob: [UInt8] = []
        blob.reserveCapacity(all.count)
        var starts: [Int] = []
        var values: [Int32] = []
        var maxLength = 0
        var overridden: [Int32] = []
        for idx in order where offsets[idx + 1] > offsets[idx] {
            let key = all[offsets[idx] ..< offsets[idx + 1]]
            if let last = starts.last, blob[last...].elementsEqual(key) {
                overridden.append(values[values.count - 1])
                values[values.count - 1] = entries[idx].value  // duplicate key: later entry wins
                continue
            }
            starts.append(blob.count)
            blob.append(contentsOf: key)
            values.append(entries[idx].value)
            maxLength = max(maxLength, key.count)
        }
        starts.append(blob.count)
        self.blob = blob
        self.starts = starts
        self.values = values
        self.maxKeyLength = maxLength
        self.overridden = overridden
        self.stopsAtNUL = stopsAtNUL
    }

    @inline(__always) private func keyLength(_ i: Int) -> Int { starts[i + 1] - starts[i] }
    @inline(__always) private func byte(_ i: Int, _ k: Int) -> UInt8 { blob[starts[i] + k] }

    /// Calls `body(value, length)` for every key equal to `text[start ..< start+length]`,
    /// in increasing length.
    func commonPrefixSearch(_ text: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int,
                            _ body: (Int32, Int) -> Void) {
        var lo = 0
        var hi = values.count
        var k = 0
        while lo < hi, start + k < end, k < maxKeyLength {
            let c = text[start + k]
            if stopsAtNUL && c == 0 { return }
            // Keys in lo..<hi share the first k bytes; one of length k may sort first.
            if keyLength(lo) == k { lo += 1 }
            // First key whose byte k is >= c.
            var a = lo, b = hi
            while a < b {
                let m = (a + b) >> 1
                if byte(m, k) < c { a = m + 1 } else { b = m }
            }
            let newLo = a
            b = hi
            while a < b {
                let m = (a + b) >> 1
                if byte(m, k) <= c { a = m + 1 } else { b = m }
            }
            lo = newLo
            hi = a
            k += 1
            if lo < hi && keyLength(lo) == k { body(values[lo], k) }
        }
    }

    /// The value of a key equal to `key`, if any.
    func exactMatch(_ key: [UInt8]) -> Int32? {
        var found: Int32?
        key.withUnsafeBufferPointer { buf in
            commonPrefixSearch(buf, from: 0, to: buf.count) { v, length in
                if length == buf.count { found = v }
            }
        }
        return found
    }
}
