/// Sequence and picture parameter sets for the built-in writer's streams: Constrained Baseline
/// profile (profile_idc 66, constraint_set0 and constraint_set1), 4:2:0, frame-only, every picture an
/// IDR picture of I_PCM macroblocks. VUI carries square pixels, BT.709 limited-range colour, the frame
/// rate, and "no reordering" so players output each frame as soon as it is decoded.
struct H264Stream {
    /// Visible (cropped) size; both even.
    let width: Int, height: Int
    let fps: Int

    var widthMBs: Int { (width + 15) / 16 }
    var heightMBs: Int { (height + 15) / 16 }
    var codedWidth: Int { widthMBs * 16 }
    var codedHeight: Int { heightMBs * 16 }

    static let profileIDC = 66
    /// constraint_set0_flag and constraint_set1_flag: Baseline decodable by Main decoders ("Constrained Baseline").
    static let constraintFlags = 0xC0

    /// Bits of one I_PCM macroblock: mb_type ue(25) (9 bits), then at most 7 alignment bits, then 384 samples.
    static let maxPCMMacroblockBits = 9 + 7 + 384 * 8

    /// (level_idc, MaxMBPS, MaxFS, MaxBR in 1000 bit/s) from Table A-1.
    private static let levels: [(Int, Int, Int, Int)] = [
        (10, 1485, 99, 64), (11, 3000, 396, 192), (12, 6000, 396, 384), (13, 11880, 396, 768),
        (20, 11880, 396, 2000), (21, 19800, 792, 4000), (22, 20250, 1620, 4000), (30, 40500, 1620, 10000),
        (31, 108000, 3600, 14000), (32, 216000, 5120, 20000), (40, 245760, 8192, 20000), (41, 245760, 8192, 50000),
        (42, 522240, 8704, 50000), (50, 589824, 22080, 135000), (51, 983040, 36864, 240000), (52, 2073600, 36864, 240000),
    ]

    /// The lowest level whose frame size, macroblock rate and bit rate limits hold. I_PCM is
    /// uncompressed (~3.1 kbit per macroblock), so large or fast videos exceed every Baseline bit-rate
    /// limit; then the highest level (5.2) is signalled: software decoders (browsers' included) do not
    /// enforce the bit rate, but strict hardware decoders may refuse such a stream.
    var level: (idc: Int, withinLimits: Bool) {
        let fs = widthMBs * heightMBs
        let mbps = fs * fps
        let bitrate = fs * Self.maxPCMMacroblockBits * fps
        for (idc, maxMBPS, maxFS, maxBR) in Self.levels {
            let side = Int(Double(8 * maxFS).squareRoot())
            if fs <= maxFS && widthMBs <= side && heightMBs <= side && mbps <= maxMBPS && bitrate <= maxBR * 1000 {
                return (idc, true)
            }
        }
        return (52, false)
    }

    /// RFC 6381 codec string, e.g. "avc1.42C01F".
    var codecString: String {
        "avc1." + [Self.profileIDC, Self.constraintFlags, level.idc].map { hex(UInt8($0)) }.joined()
    }

    func sps() -> [UInt8] {
        var w = BitstreamWriter()
        w.u(Self.profileIDC, 8)
        w.u(Self.constraintFlags, 8)  // constraint_set0..5 flags + reserved_zero_2bits
        w.u(level.idc, 8)
        w.ue(0)  // seq_parameter_set_id
        w.ue(0)  // log2_max_frame_num_minus4: frame_num is 4 bits (always 0: every picture is IDR)
        w.ue(2)  // pic_order_cnt_type 2: output order = decoding order
        w.ue(1)  // max_num_ref_frames
        w.flag(false)  // gaps_in_frame_num_value_allowed_flag
        w.ue(widthMBs - 1)
        w.ue(heightMBs - 1)  // pic_height_in_map_units_minus1
        w.flag(true)  // frame_mbs_only_flag
        w.flag(true)  // direct_8x8_inference_flag
        let cropRight = (codedWidth - width) / 2, cropBottom = (codedHeight - height) / 2  // 4:2:0 crop units are 2 px
        w.flag(cropRight > 0 || cropBottom > 0)
        if cropRight > 0 || cropBottom > 0 {
            w.ue(0); w.ue(cropRight); w.ue(0); w.ue(cropBottom)
        }
        w.flag(true)  // vui_parameters_present_flag
        writeVUI(&w)
        w.trailingBits()
        return BitstreamWriter.nalUnit(type: 7, refIdc: 3, rbsp: w.bytes)
    }

    private func writeVUI(_ w: inout BitstreamWriter) {
        w.flag(true); w.u(1, 8)  // aspect_ratio_info: 1:1
        w.flag(false)  // overscan_info_present_flag
        w.flag(true)  // video_signal_type_present_flag
        w.u(5, 3)  // video_format: unspecified
        w.flag(false)  // video_full_range_flag: limited range
        w.flag(true)  // colour_description_present_flag
        w.u(1, 8); w.u(1, 8); w.u(1, 8)  // BT.709 primaries, transfer, matrix
        w.flag(false)  // chroma_loc_info_present_flag
        w.flag(true)  // timing_info_present_flag
        w.u(1, 32)  // num_units_in_tick
        w.u(2 * fps, 32)  // time_scale: two ticks per frame
        w.flag(true)  // fixed_frame_rate_flag
        w.flag(false); w.flag(false)  // NAL / VCL HRD parameters
        w.flag(false)  // pic_struct_present_flag
        w.flag(true)  // bitstream_restriction_flag
        w.flag(true)  // motion_vectors_over_pic_boundaries_flag
        w.ue(0); w.ue(0)  // max_bytes_per_pic_denom, max_bits_per_mb_denom: no limit
        w.ue(16); w.ue(16)  // log2_max_mv_length_horizontal / vertical
        w.ue(0)  // max_num_reorder_frames
        w.ue(1)  // max_dec_frame_buffering
    }

    func pps() -> [UInt8] {
        var w = BitstreamWriter()
        w.ue(0)  // pic_parameter_set_id
        w.ue(0)  // seq_parameter_set_id
        w.flag(false)  // entropy_coding_mode_flag: CAVLC
        w.flag(false)  // bottom_field_pic_order_in_frame_present_flag
        w.ue(0)  // num_slice_groups_minus1
        w.ue(0); w.ue(0)  // num_ref_idx_l0/l1_default_active_minus1
        w.flag(false)  // weighted_pred_flag
        w.u(0, 2)  // weighted_bipred_idc
        w.se(0); w.se(0)  // pic_init_qp_minus26, pic_init_qs_minus26
        w.se(0)  // chroma_qp_index_offset
        w.flag(true)  // deblocking_filter_control_present_flag (slices switch the filter off)
        w.flag(false)  // constrained_intra_pred_flag
        w.flag(false)  // redundant_pic_cnt_present_flag
        w.trailingBits()
        return BitstreamWriter.nalUnit(type: 8, refIdc: 3, rbsp: w.bytes)
    }
}
