import TensorCore

/// How the dense elementwise kernels (the `_dense` kernels of Kernels/elementwise.cu) split the
/// `count` elements of their operands: `groups` vector steps of `group` elements from element
/// `head` on, and one scalar step for each other element.
///
/// Every operand's address at element `head` is 16-byte aligned, so every group is (a group is 16
/// bytes of a 2-byte dtype, 32 of f32). When no start below `group` aligns every operand (views
/// whose misalignments differ) or fewer than `group` elements remain, all elements take scalar
/// steps: `head == count`, `groups == 0`.
struct DenseSplit: Equatable {
    /// Elements per vector step (`EW_GROUP` in elementwise.cu).
    static let group = 8

    let count: Int
    let head: Int
    let groups: Int

    /// `operands`: the device address of element 0 of each dense operand (output included) and
    /// its element size in bytes.
    init(count: Int, operands: [(address: UInt64, elementSize: Int)]) {
        self.count = count
        let aligned = (0..<Self.group).first { h in
            operands.allSatisfy { ($0.address &+ UInt64(h * $0.elementSize)) % 16 == 0 }
        }
        if let aligned, count - aligned >= Self.group {
            head = aligned
            groups = (count - aligned) / Self.group
        } else {
            head = count
            groups = 0
        }
    }

    /// Elements taken by scalar steps: the head and the tail.
    var scalarCount: Int { count - Self.group * groups }

    /// The element scalar step `i` takes (`scalar_element` in elementwise.cu): the head, then
    /// the tail after the last group.
    func scalarElement(_ i: Int) -> Int { i < head ? i : i + Self.group * groups }

    /// Threads the launch needs: one per group and one per scalar element run side by side.
    var work: Int { max(groups, scalarCount) }

    /// The kernels' `head, groups, n` parameters.
    var arguments: [KernelArgument] { [.int64(Int64(head)), .int64(Int64(groups)), .int64(Int64(count))] }

    /// Threads per block of the dense kernels (their `__launch_bounds__`).
    static let blockSize = 256
    /// Most blocks per multiprocessor: enough waves that the last partial one costs little
    /// whatever the occupancy, few enough that each thread loops over several groups.
    static let blocksPerMultiprocessor = 64

    /// Blocks of a grid-stride launch over `work` threads.
    static func grid(work: Int, multiprocessors: Int) -> Int {
        max(1, min((work + blockSize - 1) / blockSize, max(1, multiprocessors) * blocksPerMultiprocessor))
    }

    /// The dtype's suffix in the dense kernels' names, nil for dtypes they do not take.
    static func kernelSuffix(_ dtype: DType) -> String? {
        switch dtype {
        case .f32: "f32"
        case .bf16: "bf16"
        case .f16: "f16"
        default: nil
        }
    }

    /// `td_<stem>_<dtype>_<dtype>…` as the instantiations in elementwise.cu are named.
    static func kernelName(_ stem: String, _ dtypes: DType...) -> String? {
        var name = "td_\(stem)"
        for d in dtypes {
            guard let s = kernelSuffix(d) else { return nil }
            name += "_\(s)"
        }
        return name
    }

    /// For td_binary_rows_dense: whether the repeated row can be read in groups too. Only with
    /// `head == 0` and `cols` a multiple of `group` does every group start at a multiple of 8 within
    /// its row and end before the row does; the row must then be 16-byte aligned itself.
    func rowInGroups(cols: Int, rowAddress: UInt64) -> Bool {
        groups > 0 && head == 0 && cols % Self.group == 0 && rowAddress % 16 == 0
    }
}

extension CUDABackend {
    /// Launches dense kernel `kernel` over `split`: its parameters are `leading`, then the split's
    /// `head, groups, n`, then `trailing`.
    func launchDense(_ kernel: String, _ split: DenseSplit, leading: [KernelArgument], trailing: [KernelArgument] = []) throws {
        try launch(.elementwise, kernel, grid: DenseSplit.grid(work: split.work, multiprocessors: multiprocessorCount),
                   block: DenseSplit.blockSize, leading + split.arguments + trailing)
    }
}
