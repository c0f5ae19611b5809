// gzip layers with the system zlib: the codec under `DecompressingLayerSource` (extraction) and
// `LayerCompressor` (`pack --compress gzip`).
import CZlib

/// Inflates gzip (`inflateInit2`, 16 + MAX_WBITS: gzip framing only, the 32 KiB window of every
/// deflate stream). Multi-member streams are read member after member.
final class GzipDecoder: LayerDecoder {
    let name = "gzip"
    private let stream: UnsafeMutablePointer<z_stream>
    private let label: String

    /// - Throws: `ModuleError` `.io` if zlib cannot allocate its state.
    init(label: String) throws(ModuleError) {
        self.label = label
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = inflateInit2_(stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            // Every property is set, so deinit runs and frees the stream (inflateEnd accepts one
            // whose init failed).
            throw ModuleError(status == Z_MEM_ERROR ? .io : .malformedLayer, "\(label): cannot start gzip decompression", field: label, underlying: "zlib status \(status)")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    func decode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(ModuleError) -> CodecStep {
        stream.pointee.next_in = input.isEmpty ? nil : UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = UInt32(input.count)
        stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = UInt32(output.count)
        let status = inflate(stream, Z_NO_FLUSH)
        let step = CodecStep(consumed: input.count - Int(stream.pointee.avail_in), produced: output.count - Int(stream.pointee.avail_out),
                             ended: status == Z_STREAM_END)
        stream.pointee.next_in = nil
        stream.pointee.next_out = nil
        switch status {
        case Z_OK, Z_STREAM_END:
            return step
        case Z_BUF_ERROR:
            // No progress was possible: with no input left, the stream is truncated (the caller
            // knows whether input is left, and says so).
            return step
        case Z_MEM_ERROR:
            throw ModuleError(.io, "\(label): out of memory while decompressing gzip; free memory and try again")
        default:
            let reason = stream.pointee.msg.map { String(cString: $0) } ?? "zlib status \(status)"
            throw ModuleError(.malformedLayer, "\(label) is not a valid gzip stream: the layer is damaged or is not gzip-compressed; rebuild the image", underlying: "zlib: \(reason)")
        }
    }

    func startNextFrame() { inflateReset(stream) }
}

/// Deflates into one gzip member (`deflateInit2`, 16 + MAX_WBITS, memLevel 8, default strategy)
/// at zlib's default level 6; the gzip header has no name and mtime 0, so the output depends only
/// on the input and the zlib version.
final class GzipEncoder: LayerEncoder {
    static let level: Int32 = 6
    private let stream: UnsafeMutablePointer<z_stream>

    /// - Throws: `ModuleError` `.io` if zlib cannot allocate its state.
    init() throws(ModuleError) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = deflateInit2_(stream, Self.level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            throw ModuleError(.io, "cannot start gzip compression (out of memory?)", underlying: "zlib status \(status)")
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    func encode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, end: Bool) throws(ModuleError) -> CodecStep {
        stream.pointee.next_in = input.isEmpty ? nil : UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = UInt32(input.count)
        stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = UInt32(output.count)
        let status = deflate(stream, end ? Z_FINISH : Z_NO_FLUSH)
        let step = CodecStep(consumed: input.count - Int(stream.pointee.avail_in), produced: output.count - Int(stream.pointee.avail_out),
                             ended: status == Z_STREAM_END)
        stream.pointee.next_in = nil
        stream.pointee.next_out = nil
        guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
            throw ModuleError(.io, "gzip compression failed", underlying: "zlib status \(status)")
        }
        return step
    }
}
