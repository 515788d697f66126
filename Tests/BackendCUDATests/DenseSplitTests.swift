@testable import BackendCUDA
import Testing
import TensorCore

/// The host side of the dense elementwise kernels, without a GPU: the split (a CPU model of the
/// kernels' thread loops must touch every element once, vector accesses aligned), the launch
/// grid, the kernel names against the instantiations in elementwise.cu, and which views count
/// as dense or as a repeated row.
struct DenseSplitTests {
    /// Runs the kernels' two grid-stride loops on the CPU (elementwise.cu, `unary_dense` & co.)
    /// for every thread of the launch: the element indices each vector and scalar step takes.
    static func emulate(_ split: DenseSplit, threads: Int) -> (groupStarts: [Int], scalars: [Int]) {
        var groupStarts: [Int] = [], scalars: [Int] = []
        for t in 0..<threads {
            var g = t
            while g < split.groups {
                groupStarts.append(split.head + DenseSplit.group * g)
                g += threads
            }
            var i = t
            while i < split.count - DenseSplit.group * split.groups {
                scalars.append(split.scalarElement(i))
                i += threads
            }
        }
        return (groupStarts, scalars)
    }

    static let base: UInt64 = 0x7f00_0000_0000   // a 256-byte aligned allocation

    @Test(arguments: [0, 1, 2, 7, 8, 9, 15, 16, 17, 63, 1023, 1024, 100_003])
    func everyElementOnceAndEveryGroupAligned(count: Int) {
        // Output fresh (aligned); inputs at element offsets 0...8 of 2- and 4-byte dtypes.
        for outSize in [2, 4] {
            for inSize in [2, 4] {
                for offset in 0...8 {
                    let operands = [(address: Self.base, elementSize: outSize),
                                    (address: Self.base + 4096 + UInt64(offset * inSize), elementSize: inSize)]
                    let split = DenseSplit(count: count, operands: operands)
                    let threads = DenseSplit.grid(work: split.work, multiprocessors: 2) * DenseSplit.blockSize
                    let (starts, scalars) = Self.emulate(split, threads: min(threads, 4096))
                    var seen = [Int](repeating: 0, count: count)
                    for s in starts {
                        for k in 0..<DenseSplit.group { seen[s + k] += 1 }
                        for o in operands { #expect((o.address + UInt64(s * o.elementSize)) % 16 == 0) }
                    }
                    for j in scalars { seen[j] += 1 }
                    #expect(seen.allSatisfy { $0 == 1 }, "count \(count) sizes \(outSize)/\(inSize) offset \(offset)")
                    #expect(split.scalarCount == scalars.count && split.groups == starts.count)
                    #expect(split.head + DenseSplit.group * split.groups <= count)
                }
            }
        }
    }

    static func expectSplit(_ s: DenseSplit, head: Int, groups: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(s.head == head && s.groups == groups, "split \(s)", sourceLocation: sourceLocation)
    }

    @Test func splitsThatAlignTakeVectorSteps() {
        let b = Self.base
        // Aligned operands: all groups from element 0, the tail scalar.
        Self.expectSplit(DenseSplit(count: 1023, operands: [(b, 2), (b + 512, 2)]), head: 0, groups: 127)
        // An f32 output and a bf16 input 8 bytes off: a head of 4 elements aligns both.
        Self.expectSplit(DenseSplit(count: 1031, operands: [(b, 4), (b + 8, 2)]), head: 4, groups: 128)
        // Element offset 1 of a 2-byte input never meets an aligned output: all scalar.
        Self.expectSplit(DenseSplit(count: 1025, operands: [(b, 2), (b + 2, 2)]), head: 1025, groups: 0)
        // Fewer elements than a group after the head.
        Self.expectSplit(DenseSplit(count: 7, operands: [(b, 4), (b, 4)]), head: 7, groups: 0)
        Self.expectSplit(DenseSplit(count: 11, operands: [(b, 4), (b + 8, 2)]), head: 11, groups: 0)
        #expect(DenseSplit(count: 0, operands: [(b, 4)]).work == 0)
    }

    @Test func gridCoversTheWorkWithinTheCap() {
        #expect(DenseSplit.grid(work: 0, multiprocessors: 132) == 1)
        #expect(DenseSplit.grid(work: 1, multiprocessors: 132) == 1)
        #expect(DenseSplit.grid(work: 257, multiprocessors: 132) == 2)
        #expect(DenseSplit.grid(work: 1 << 30, multiprocessors: 132) == 132 * DenseSplit.blocksPerMultiprocessor)
        // The DiT's GELU input (32 760 × 8 960 bf16): every thread loops.
        let gelu = DenseSplit(count: 32_760 * 8_960, operands: [(Self.base, 2), (Self.base + (1 << 30), 2)])
        #expect(gelu.head == 0 && gelu.scalarCount == 0 && gelu.groups == 32_760 * 1_120)
        #expect(DenseSplit.grid(work: gelu.work, multiprocessors: 132) * DenseSplit.blockSize < gelu.groups)
    }

    @Test func rowInGroupsOnlyWhenNoGroupCrossesARowEnd() {
        let b = Self.base
        let aligned = DenseSplit(count: 33 * 64, operands: [(b, 2), (b + 4096, 2)])
        #expect(aligned.rowInGroups(cols: 64, rowAddress: b + 8192))
        #expect(!aligned.rowInGroups(cols: 64, rowAddress: b + 8192 + 6))   // the row misaligned
        #expect(!aligned.rowInGroups(cols: 9, rowAddress: b + 8192))
        #expect(!aligned.rowInGroups(cols: 1, rowAddress: b + 8192))
        let headed = DenseSplit(count: 64 * 64, operands: [(b, 4), (b + 8, 2)])
        #expect(headed.head == 4 && !headed.rowInGroups(cols: 64, rowAddress: b))
        // Every group's columns stay inside one row when it holds.
        for g in 0..<aligned.groups {
            let c = (aligned.head + DenseSplit.group * g) % 64
            #expect(c % DenseSplit.group == 0 && c + DenseSplit.group <= 64)
        }
    }

    @Test func kernelNamesMatchTheInstantiations() throws {
        let floats: [DType] = [.f32, .bf16, .f16]
        func expectDefined(_ name: String?) {
            guard let name else { Issue.record("no kernel name"); return }
            #expect(Self.instantiations.contains(name), "\(name) is not instantiated in elementwise.cu")
        }
        for a in floats {
            expectDefined(DenseSplit.kernelName("unary_dense", a))
            for b in floats {
                if a != b { expectDefined(DenseSplit.kernelName("convert_dense", a, b)) }
                expectDefined(DenseSplit.kernelName("binary_dense", a, b))
                expectDefined(DenseSplit.kernelName("binary_groups", a, b))
                // binary(): the output in a's dtype, the dense operand first (a, or b when the row is a).
                expectDefined(DenseSplit.kernelName("binary_rows_dense", a, a, b))
                expectDefined(DenseSplit.kernelName("binary_rows_dense", a, b, a))
            }
        }
        #expect(DenseSplit.kernelName("binary_dense", .f32, .i32) == nil)
        #expect(DenseSplit.kernelName("binary_rows_dense", .f32, .bf16, .f16) == "td_binary_rows_dense_f32_bf16_f16")
        #expect(Self.instantiations.count == 3 + 6 + 9 + 15 + 9)
    }

    /// The kernel names elementwise.cu's EW_* macros expand to, read from the source.
    static var instantiations: Set<String> {
        var names = Set<String>()
        for line in KernelSources.elementwise.split(separator: "\n") {
            let l = String(line.filter { $0 != " " })
            func args(_ macro: String) -> [String]? {
                guard l.hasPrefix(macro + "("), l.hasSuffix(")") else { return nil }
                return l.dropFirst(macro.count + 1).dropLast().split(separator: ",").map(String.init)
            }
            if let a = args("EW_CONVERT") { names.insert("td_convert_dense_\(a[0])_\(a[2])") }
            if let a = args("EW_UNARY") { names.insert("td_unary_dense_\(a[0])") }
            if let a = args("EW_BINARY") { names.insert("td_binary_dense_\(a[0])_\(a[2])") }
            if let a = args("EW_ROWS") { names.insert("td_binary_rows_dense_\(a[0])_\(a[2])_\(a[4])") }
            if let a = args("EW_GROUPS") { names.insert("td_binary_groups_\(a[0])_\(a[2])") }
        }
        return names
    }

    @Test func repeatedRowsAndDenseViews() throws {
        let rows = try Tensor.host([Float](repeating: 1, count: 12), shape: [3, 4])
        let row = try Tensor.host([1, 2, 3, 4], shape: [4])
        let scalar = try Tensor.host([5], shape: [1])
        #expect(CUDABackend.repeatedRow(try row.expanded(to: [3, 4])) == 4)
        #expect(CUDABackend.repeatedRow(try row.reshaped([1, 1, 4]).expanded(to: [2, 3, 4])) == 4)
        #expect(CUDABackend.repeatedRow(try scalar.expanded(to: [3, 4])) == 1)
        #expect(CUDABackend.repeatedRow(rows) == nil)                                       // dense: no repetition
        #expect(CUDABackend.repeatedRow(try rows.transposed(0, 1)) == nil)
        #expect(CUDABackend.repeatedRow(try row.reshaped([4, 1]).expanded(to: [4, 3])) == nil)   // a column
        // Dense (the `_dense` kernels) vs strided (the generic ones).
        #expect(try StridedArgument(rows).isLinear)
        #expect(try StridedArgument(try rows.narrowed(dim: 0, start: 1, length: 2)).isLinear)
        #expect(try !StridedArgument(rows.transposed(0, 1)).isLinear)
        #expect(try !StridedArgument(try rows.narrowed(dim: 1, start: 1, length: 2)).isLinear)
        #expect(try !StridedArgument(try scalar.expanded(to: [3])).isLinear)
    }
}
