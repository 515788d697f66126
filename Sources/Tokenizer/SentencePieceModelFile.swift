/// The parts of a SentencePiece `ModelProto` (sentencepiece_model.proto) that encoding needs,
/// decoded with our own wire-format reader. Unknown fields are skipped (their wire types are
/// still checked); top-level fields outside the ModelProto schema make the file foreign.
struct SentencePieceModelFile {
    enum PieceType: Int32, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    struct Piece {
        var piece: String
        var score: Float
        var type: PieceType
    }

    struct TrainerSpec {
        /// 1 unigram, 2 BPE, 3 word, 4 char.
        var modelType: Int32 = 1
        var byteFallback = false
        var treatWhitespaceAsSuffix = false
        var unkID: Int32 = 0
        var bosID: Int32 = 1
        var eosID: Int32 = 2
        var padID: Int32 = -1
        var unkPiece = "<unk>"
        var bosPiece = "<s>"
        var eosPiece = "</s>"
        var padPiece = "<pad>"
    }

    struct NormalizerSpec {
        var name = ""
        var precompiledCharsmap: [UInt8] = []
        var addDummyPrefix = true
        var removeExtraWhitespaces = true
        var escapeWhitespaces = true
    }

    var pieces: [Piece] = []
    var trainer = TrainerSpec()
    var normalizer = NormalizerSpec()

    /// Parses the bytes of a `.model` file. Errors carry no path; the caller adds it.
    static func parse(_ bytes: [UInt8]) throws -> SentencePieceModelFile {
        guard !bytes.isEmpty else { throw TokenizerError(.notATokenizer, "the file is empty") }
        var model = SentencePieceModelFile()
        var reader = ProtobufReader(bytes, context: "SentencePiece ModelProto")
        var sawNormalizer = false, sawTrainer = false
        while let field = try reader.nextField() {
            switch field.number {
            case 1:
                model.pieces.append(try parsePiece(reader.nested(field, context: "SentencePiece #\(model.pieces.count)"),
                                                   index: model.pieces.count))
            case 2:
                model.trainer = try parseTrainer(reader.nested(field, context: "TrainerSpec"))
                sawTrainer = true
            case 3:
                model.normalizer = try parseNormalizer(reader.nested(field, context: "NormalizerSpec"))
                sawNormalizer = true
            case 4, 5:
                // self_test_data, denormalizer_spec: only their framing is checked.
                var inner = reader.nested(field, context: field.number == 4 ? "SelfTestData" : "denormalizer NormalizerSpec")
                while try inner.nextField() != nil {}
            case 200...:
                break  // extension range
            default:
                throw TokenizerError(.notATokenizer, "not a SentencePiece model: top-level field \(field.number) is not part of ModelProto")
            }
        }
        guard !model.pieces.isEmpty else {
            throw TokenizerError(.notATokenizer, "not a SentencePiece model: no pieces")
        }
        // Every file the trainer writes has both specs after the pieces; a file cut short at a
        // field boundary still parses, so their absence is how truncation shows.
        guard sawTrainer, sawNormalizer else {
            throw TokenizerError(.notATokenizer, "not a complete SentencePiece model: no \(sawTrainer ? "normalizer_spec" : "trainer_spec") (truncated file?)")
        }
        return model
    }

    private static func parsePiece(_ r: ProtobufReader, index: Int) throws -> Piece {
        var reader = r
        var piece = Piece(piece: "", score: 0, type: .normal)
        while let f = try reader.nextField() {
            switch f.number {
            case 1: piece.piece = try reader.string(f, "piece")
            case 2: piece.score = try reader.float(f, "score")
            case 3:
                let raw = try reader.int32(f, "type")
                guard let t = PieceType(rawValue: raw) else {
                    throw TokenizerError(.corrupt, "piece #\(index) has unknown type \(raw)")
                }
                piece.type = t
            default: break
            }
        }
        return piece
    }

    private static func parseTrainer(_ r: ProtobufReader) throws -> TrainerSpec {
        var reader = r
        var t = TrainerSpec()
        while let f = try reader.nextField() {
            switch f.number {
            case 3: t.modelType = try reader.int32(f, "model_type")
            case 24: t.treatWhitespaceAsSuffix = try reader.bool(f, "treat_whitespace_as_suffix")
            case 35: t.byteFallback = try reader.bool(f, "byte_fallback")
            case 40: t.unkID = try reader.int32(f, "unk_id")
            case 41: t.bosID = try reader.int32(f, "bos_id")
            case 42: t.eosID = try reader.int32(f, "eos_id")
            case 43: t.padID = try reader.int32(f, "pad_id")
            case 45: t.unkPiece = try reader.string(f, "unk_piece")
            case 46: t.bosPiece = try reader.string(f, "bos_piece")
            case 47: t.eosPiece = try reader.string(f, "eos_piece")
            case 48: t.padPiece = try reader.string(f, "pad_piece")
            default: break
            }
        }
        return t
    }

    private static func parseNormalizer(_ r: ProtobufReader) throws -> NormalizerSpec {
        var reader = r
        var n = NormalizerSpec()
        while let f = try reader.nextField() {
            switch f.number {
            case 1: n.name = try reader.string(f, "name")
            case 2: n.precompiledCharsmap = try reader.data(f, "precompiled_charsmap")
            case 3: n.addDummyPrefix = try reader.bool(f, "add_dummy_prefix")
            case 4: n.removeExtraWhitespaces = try reader.bool(f, "remove_extra_whitespaces")
            case 5: n.escapeWhitespaces = try reader.bool(f, "escape_whitespaces")
            default: break
            }
        }
        return n
    }
}
