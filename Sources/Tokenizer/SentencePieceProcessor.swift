/// A SentencePiece `.model` file ready to encode: the checks of sentencepiece's
/// `ModelInterface::InitializePieces` and unigram `Model` constructor, then
/// normalizer → unigram encoder, as `SentencePieceProcessor::Encode` does.
struct SentencePieceProcessor {
    let normalizer: SentencePieceNormalizer
    let unigram: SentencePieceUnigram
    let eosID: Int32
    let padID: Int32
    let unkID: Int32
    let vocabSize: Int
    let normalizationName: String

    init(_ file: SentencePieceModelFile) throws {
        guard file.trainer.modelType == 1 else {
            let names: [Int32: String] = [2: "BPE", 3: "word", 4: "char"]
            throw TokenizerError(.unsupported, "the SentencePiece model is a \(names[file.trainer.modelType] ?? "type \(file.trainer.modelType)") model; only unigram models (umT5) are supported")
        }
        var normal: [(key: [UInt8], value: Int32)] = []
        // Pieces are byte strings: Swift String equality/hashing would merge canonically
        // equivalent spellings ("é" and "e\u{301}") that are distinct pieces.
        var reserved: [[UInt8]: Int32] = [:]
        var userDefined: [(key: [UInt8], value: Int32)] = []
        var unk: Int32 = -1
        var byteIDs = [Int32](repeating: -1, count: 256)
        var minScore = Float.greatestFiniteMagnitude
        var maxScore = Float.leastNormalMagnitude  // FLT_MIN, as in unigram_model.cc
        for (i, p) in file.pieces.enumerated() {
            let id = Int32(i)
            guard !p.piece.isEmpty else { throw TokenizerError(.corrupt, "piece #\(i) is empty") }
            switch p.type {
            case .normal, .userDefined, .unused:
                normal.append((Array(p.piece.utf8), id))
                if p.type == .userDefined { userDefined.append((Array(p.piece.utf8), id)) }
                if p.type == .normal {
                    minScore = min(minScore, p.score)
                    maxScore = max(maxScore, p.score)
                }
            case .unknown, .control, .byte:
                guard reserved.updateValue(id, forKey: Array(p.piece.utf8)) == nil else {
                    throw TokenizerError(.corrupt, "piece \(p.piece) is defined twice")
                }
                if p.type == .unknown {
                    guard unk < 0 else { throw TokenizerError(.corrupt, "two unknown pieces (#\(unk) and #\(i))") }
                    unk = id
                }
                if p.type == .byte {
                    guard file.trainer.byteFallback else {
                        throw TokenizerError(.corrupt, "byte piece \(p.piece) although byte_fallback is false")
                    }
                    guard let b = Self.byteValue(p.piece) else { throw TokenizerError(.corrupt, "byte piece \(p.piece) is invalid") }
                    byteIDs[Int(b)] = id
                }
            }
        }
        guard unk >= 0 else { throw TokenizerError(.corrupt, "the model defines no unknown piece") }
        if file.trainer.byteFallback, let missing = byteIDs.firstIndex(of: -1) {
            throw TokenizerError(.corrupt, "byte_fallback is on but piece <0x\(String(missing, radix: 16, uppercase: true))> is missing")
        }

        let pieceTrie = PieceTrie(normal, stopsAtNUL: true)
        if let dup = pieceTrie.overridden.first {
            throw TokenizerError(.corrupt, "piece \(file.pieces[Int(dup)].piece) is defined twice")
        }
        let charsmap = file.normalizer.precompiledCharsmap.isEmpty ? nil : try PrecompiledCharsmap(blob: file.normalizer.precompiledCharsmap)
        normalizer = SentencePieceNormalizer(
            charsmap: charsmap,
            userDefined: userDefined.isEmpty ? nil : PieceTrie(userDefined, stopsAtNUL: true),
            addDummyPrefix: file.normalizer.addDummyPrefix,
            removeExtraWhitespaces: file.normalizer.removeExtraWhitespaces,
            escapeWhitespaces: file.normalizer.escapeWhitespaces,
            treatWhitespaceAsSuffix: file.trainer.treatWhitespaceAsSuffix)
        unigram = SentencePieceUnigram(
            trie: pieceTrie, pieces: file.pieces.map(\.piece),
            scores: file.pieces.map(\.score), types: file.pieces.map(\.type), unkID: unk,
            minScore: minScore, maxScore: maxScore, byteFallback: file.trainer.byteFallback, byteIDs: byteIDs)

        // Special ids as sentencepiece reports them: the trainer_spec ids when they name a piece
        // of the expected text, else a lookup of the piece text.
        func special(_ id: Int32, _ piece: String) -> Int32? {
            if id >= 0, Int(id) < file.pieces.count, file.pieces[Int(id)].piece.utf8.elementsEqual(piece.utf8) { return id }
            return reserved[Array(piece.utf8)]
        }
        guard let eos = special(file.trainer.eosID, file.trainer.eosPiece) else {
            throw TokenizerError(.corrupt, "the model has no end-of-sequence piece \(file.trainer.eosPiece)")
        }
        eosID = eos
        padID = special(file.trainer.padID, file.trainer.padPiece) ?? 0
        unkID = unk
        vocabSize = file.pieces.count
        normalizationName = file.normalizer.name.isEmpty ? (charsmap == nil ? "identity" : "custom") : file.normalizer.name
    }

    static func byteValue(_ piece: String) -> UInt8? {
        let u = Array(piece.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30 ... 0x39: c - 0x30
            case 0x41 ... 0x46: c - 0x41 + 10
            default: nil
            }
        }
        guard let h = hex(u[3]), let l = hex(u[4]) else { return nil }
        return h << 4 | l
    }

    func encode(_ text: String) -> [EncodedPiece] {
        unigram.encode(normalizer.normalize(Array(text.utf8)))
    }
}
