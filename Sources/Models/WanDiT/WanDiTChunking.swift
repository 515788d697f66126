/// The sizes the DiT splits its largest temporaries by (rows and heads are independent, so every
/// split gives the same values as one pass). Public so that the pipeline's memory planner
/// predicts the same temporaries the model makes.
public enum WanDiTChunking {
    /// Token rows per FFN pass: the ffn-wide intermediate (13 824 columns in the 14B models) then
    /// stays below ~1 GiB at any clip length. A multiple of 128, so W8A8's activation blocks are the
    /// same as in one pass.
    public static let feedForwardRows = 32 * 1024
    /// Most fp32 bytes of one head group's SLA linear-branch temporaries (each of φ(q), φ(k), the
    /// numerator); the heads are processed in groups below it.
    public static let linearGroupBytes = 512 << 20

    /// Heads per SLA linear-branch group for `heads` heads of `tokens` × `headDim`.
    public static func linearGroupHeads(heads: Int, tokens: Int, headDim: Int, groupBytes: Int = linearGroupBytes) -> Int {
        max(1, min(heads, groupBytes / max(tokens * headDim * 4, 1)))
    }
}
