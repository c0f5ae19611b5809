// zstd layers with the system libzstd: the codec under `DecompressingLayerSource` (extraction) and
// `LayerCompressor` (`pack --compress zstd`). Only libzstd's stable API is used.
import CZstd

/// Decompresses zstd with a `ZSTD_DStream` (`ZSTD_decompressStream`), frame after frame, refusing
/// any frame whose window is over `2^maxWindowLog` bytes (`ZSTD_d_windowLogMax`) before the
/// decoder allocates it: the window is what a zstd decoder holds in memory, and a device has
/// little of it.
final class ZstdDecoder: LayerDecoder {
    let name = "zstd"
    private let context: OpaquePointer
    private let label: String
    private let maxWindowLog: Int
    /// Whether the next input starts a frame (for naming the window a refused frame asks for).
    private var atFrameStart = true

    /// - Throws: `ModuleError` `.io` if libzstd cannot allocate its state, `.invalidValue` if
    ///   `maxWindowLog` is outside what libzstd accepts (10 to 30 on 32-bit, 31 on 64-bit).
    init(label: String, maxWindowLog: Int) throws(ModuleError) {
        guard let context = ZSTD_createDStream() else {
            throw ModuleError(.io, "\(label): cannot start zstd decompression (out of memory); free memory and try again", field: label)
        }
        self.context = context
        self.label = label
        self.maxWindowLog = maxWindowLog
        let status = ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, Int32(clamping: maxWindowLog))
        guard ZSTD_isError(status) == 0 else {
            // Every property is set, so deinit frees the context.
            throw ModuleError(.invalidValue, "maxZstdWindowLog \(maxWindowLog) is not a window size libzstd accepts (10 to 30, or 31 on 64-bit systems)", field: "maxZstdWindowLog",
                              underlying: String(cString: ZSTD_getErrorName(status)))
        }
    }

    deinit { ZSTD_freeDStream(context) }

    func decode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(ModuleError) -> CodecStep {
        var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var destination = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        let result = ZSTD_decompressStream(context, &destination, &source)
        guard ZSTD_isError(result) == 0 else {
            let reason = "zstd: " + String(cString: ZSTD_getErrorName(result))
            switch ZSTD_getErrorCode(result) {
            case ZSTD_error_frameParameter_windowTooLarge:
                let asked = atFrameStart ? Self.windowSize(frameHeader: input).map { " asks for a window of \(SizeText.of($0)), which is" } ?? "" : ""
                throw ModuleError(.tooLarge, "\(label) is zstd whose frame\(asked) over the limit of \(SizeText.limit(1 << UInt64(maxWindowLog), "maxZstdWindowLog \(maxWindowLog)")): the decoder would hold that much memory; repack it with `plugin-host pack --compress zstd` (or zstd at level 19 or lower, without --long or --ultra), or raise the limit",
                                  underlying: reason)
            case ZSTD_error_memory_allocation:
                throw ModuleError(.io, "\(label): out of memory while decompressing zstd; free memory and try again", underlying: reason)
            default:
                throw ModuleError(.malformedLayer, "\(label) is not a valid zstd stream: the layer is damaged or is not zstd-compressed; rebuild the image", underlying: reason)
            }
        }
        if source.pos > 0 { atFrameStart = false }
        return CodecStep(consumed: source.pos, produced: destination.pos, ended: result == 0)
    }

    /// After a frame ends the DStream starts the next one by itself.
    func startNextFrame() { atFrameStart = true }

    /// The window size a zstd frame header declares in its Window_Descriptor (RFC 8878 3.1.1.1.2);
    /// nil if `header` does not start with a frame header that has one (single-segment frames
    /// use their content size instead).
    static func windowSize(frameHeader header: UnsafeRawBufferPointer) -> UInt64? {
        guard header.count >= 6, header.loadUnaligned(as: UInt32.self).littleEndian == 0xFD2F_B528 else { return nil }
        let singleSegment = header[4] & 0x20 != 0
        guard !singleSegment else { return nil }
        let exponent = UInt64(header[5] >> 3), mantissa = UInt64(header[5] & 7)
        let base: UInt64 = 1 << (10 + exponent)
        return base + base / 8 * mantissa
    }
}

/// Compresses into one zstd frame with a `ZSTD_CCtx` (`ZSTD_compressStream2`) at level 10 with a
/// 4 MiB window (windowLog 22) and a content checksum, single-threaded: the output depends only
/// on the input and the libzstd version. Level 10 is about a third of level 19's compression time
/// for a few percent more bytes, and the window stays far below the extractor's limit.
final class ZstdEncoder: LayerEncoder {
    static let level: Int32 = 10
    static let windowLog: Int32 = 22
    private let context: OpaquePointer

    /// - Throws: `ModuleError` `.io` if libzstd cannot allocate its state.
    init() throws(ModuleError) {
        guard let context = ZSTD_createCCtx() else {
            throw ModuleError(.io, "cannot start zstd compression (out of memory)")
        }
        self.context = context
        for (parameter, value) in [(ZSTD_c_compressionLevel, Self.level), (ZSTD_c_windowLog, Self.windowLog), (ZSTD_c_checksumFlag, 1)] {
            let status = ZSTD_CCtx_setParameter(context, parameter, value)
            guard ZSTD_isError(status) == 0 else {
                throw ModuleError(.io, "cannot set up zstd compression", underlying: "zstd: " + String(cString: ZSTD_getErrorName(status)))
            }
        }
    }

    deinit { ZSTD_freeCCtx(context) }

    func encode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, end: Bool) throws(ModuleError) -> CodecStep {
        var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var destination = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        let remaining = ZSTD_compressStream2(context, &destination, &source, end ? ZSTD_e_end : ZSTD_e_continue)
        guard ZSTD_isError(remaining) == 0 else {
            throw ModuleError(.io, "zstd compression failed", underlying: "zstd: " + String(cString: ZSTD_getErrorName(remaining)))
        }
        return CodecStep(consumed: source.pos, produced: destination.pos, ended: end && remaining == 0)
    }
}
