import TensorCore

/// Turns a byte range of a mapped file into a `HostBuffer` for tensors of `itemSize`-byte
/// elements. Zero-copy when the range is aligned to the element size (torch.save aligns
/// members to 64 bytes, safetensors to 8); otherwise the bytes are copied into an aligned
/// allocation, because typed loads from misaligned addresses trap.
func elementBuffer(_ file: MappedFile, offset: Int, length: Int, itemSize: Int) throws -> HostBuffer {
    let borrowed: HostBuffer
    do {
        borrowed = try file.buffer(offset: offset, length: length)
    } catch {
        throw CheckpointError(.corrupt, path: file.path, "byte range \(offset)..<\(offset + length) lies outside the file (\(file.size) bytes)")
    }
    if Int(bitPattern: borrowed.base) % max(itemSize, 1) == 0 { return borrowed }
    let copy = try HostBuffer(byteCount: length)
    copy.base.copyMemory(from: borrowed.base, byteCount: length)
    return copy
}

/// Byte offset of `view` inside the mapping of `file` (views are always slices of it).
func fileOffset(of view: ByteView, in file: MappedFile) -> Int {
    guard let p = view.bytes.baseAddress else { return 0 }
    return p - file.base
}
