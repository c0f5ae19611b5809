// How module layers are compressed and decompressed: the choice (`LayerCompression`), the
// streaming loops around a codec (`LayerCompressor`, `DecompressingLayerSource`) and the limits
// the extractor holds every compressed layer to. The codecs themselves are in Gzip.swift (system
// zlib) and Zstd.swift (system libzstd).
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The compression of a module image's layer, and the OCI media type that names it.
public enum LayerCompression: String, CaseIterable, Sendable {
    /// A plain tar (`application/vnd.oci.image.layer.v1.tar`).
    case none
    /// gzip (`…tar+gzip`), zlib level 6: readable by every OCI tool.
    case gzip
    /// zstd (`…tar+zstd`), level 10 with a 4 MiB window: smaller than gzip and faster to unpack.
    case zstd

    /// The OCI image-spec media type of a layer compressed this way.
    public var mediaType: String {
        switch self {
        case .none: OCI.layerTar
        case .gzip: OCI.layerTarGzip
        case .zstd: OCI.layerTarZstd
        }
    }

    /// The compression a layer media type names; nil for a media type the extractor does not read.
    public init?(mediaType: String) {
        guard let compression = Self.allCases.first(where: { $0.mediaType == mediaType }) else { return nil }
        self = compression
    }
}

// MARK: - Codecs

/// What one call into a codec did.
struct CodecStep {
    /// Input bytes the codec took.
    var consumed: Int
    /// Output bytes it wrote at the start of the output buffer.
    var produced: Int
    /// Decoding: a gzip member or zstd frame ended and all of its output has been given.
    /// Encoding with `end`: the stream is complete and flushed.
    var ended: Bool
}

/// A streaming decompressor over caller-owned buffers. Errors name `label` (the layer).
protocol LayerDecoder: AnyObject {
    /// "gzip", "zstd": for messages.
    var name: String { get }
    /// Decodes from `input` into `output`.
    /// - Throws: `ModuleError` `.malformedLayer` for corrupt data, `.tooLarge` for what the limits
    ///   refuse before decoding (a zstd window), `.io` when memory runs out.
    func decode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(ModuleError) -> CodecStep
    /// Prepares for another gzip member or zstd frame after a step that `ended`.
    func startNextFrame()
}

/// A streaming compressor over caller-owned buffers.
protocol LayerEncoder: AnyObject {
    /// Compresses from `input` into `output`; with `end`, also finishes the stream (call again
    /// with the rest of the input until a step has `ended`).
    func encode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, end: Bool) throws(ModuleError) -> CodecStep
}

// MARK: - Compressing

/// Compresses a stream given a chunk at a time, passing the output to a sink a chunk at a time:
/// `pack --compress` streams the layer's tar through one (twice: to sign its digest, then to write
/// it), and the tests build compressed layers with it. Same input, settings and library version,
/// same bytes: there are no threads and no time stamps.
final class LayerCompressor {
    private let encoder: any LayerEncoder
    private let output: UnsafeMutableRawBufferPointer
    private var finished = false

    /// - Throws: `ModuleError` `.io` if the codec cannot start (out of memory).
    /// - Parameter compression: `.gzip` or `.zstd`; `.none` is refused as `.invalidValue`.
    init(_ compression: LayerCompression) throws(ModuleError) {
        switch compression {
        case .gzip: encoder = try GzipEncoder()
        case .zstd: encoder = try ZstdEncoder()
        case .none: throw ModuleError(.invalidValue, "a layer without compression needs no compressor", field: "compression")
        }
        output = .allocate(byteCount: ByteStreamReader.chunkSize, alignment: 16)
    }

    deinit { output.deallocate() }

    /// Compresses `data`, giving `sink` whatever output is ready.
    func write(_ data: Data, to sink: Tar.Sink) throws(ModuleError) {
        guard !data.isEmpty else { return }
        var failure: ModuleError?
        data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            do throws(ModuleError) { try run(input, end: false, to: sink) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Ends the stream, giving `sink` the rest of the output.
    func finish(to sink: Tar.Sink) throws(ModuleError) {
        guard !finished else { return }
        try run(UnsafeRawBufferPointer(start: nil, count: 0), end: true, to: sink)
        finished = true
    }

    private func run(_ input: UnsafeRawBufferPointer, end: Bool, to sink: Tar.Sink) throws(ModuleError) {
        var offset = 0
        while true {
            let step = try encoder.encode(UnsafeRawBufferPointer(rebasing: input[offset...]), into: output, end: end)
            offset += step.consumed
            if step.produced > 0 { try sink(Data(UnsafeRawBufferPointer(rebasing: output[..<step.produced]))) }
            // Without `end`: done once all input is taken and the output had room to spare (so
            // nothing is waiting in the codec that a bigger buffer would have taken).
            if end ? step.ended : offset == input.count && step.produced < output.count { return }
        }
    }
}

// MARK: - Decompressing

/// A compressed layer's tar, decompressed a chunk at a time from another `ByteSource` (the
/// layer's bytes in the image) through a buffer of its own. It stops as soon as the output passes
/// the limits, so a bomb never occupies more than one chunk of memory; the limits are the same
/// whatever the codec.
final class DecompressingLayerSource: ByteSource {
    private let input: any ByteSource
    private let decoder: any LayerDecoder
    /// Compressed bytes read from `input` and not yet decoded: `inputBuffer[inputStart..<inputEnd]`.
    private let inputBuffer: UnsafeMutableRawBufferPointer
    private var inputStart = 0
    private var inputEnd = 0
    private var inputAtEnd = false
    private let label: String
    private let limits: ExtractionLimits
    /// Compressed bytes consumed and decompressed bytes produced so far.
    private(set) var consumed = 0
    private(set) var produced: UInt64 = 0
    private var finished = false

    /// Decompressed bytes beyond `maxTotalBytes` a layer may have: tar headers, padding, pax
    /// records (4 KiB per allowed entry) and the end-of-archive blocks (1 MiB).
    var maxDecompressedBytes: UInt64 {
        let overhead = UInt64(max(0, limits.maxEntries)).multipliedReportingOverflow(by: 4096)
        let (total, overflow) = limits.maxTotalBytes.addingReportingOverflow(overhead.overflow ? UInt64.max : overhead.partialValue + (1 << 20))
        return overflow ? UInt64.max : total
    }

    /// The compression ratio is checked once this much has been decompressed.
    static let ratioCheckThreshold: UInt64 = 1 << 20

    /// A compressed layer already in memory.
    convenience init(_ compression: LayerCompression, _ input: Data, limits: ExtractionLimits, label: String) throws(ModuleError) {
        try self.init(compression, DataByteSource(input), limits: limits, label: label)
    }

    /// - Throws: `ModuleError` `.io` if the codec cannot start (out of memory), `.invalidValue`
    ///   for `.none` (a plain tar needs no decompressor).
    init(_ compression: LayerCompression, _ input: any ByteSource, limits: ExtractionLimits, label: String) throws(ModuleError) {
        switch compression {
        case .gzip: decoder = try GzipDecoder(label: label)
        case .zstd: decoder = try ZstdDecoder(label: label, maxWindowLog: limits.maxZstdWindowLog)
        case .none: throw ModuleError(.invalidValue, "\(label) is a plain tar and needs no decompressor", field: label)
        }
        self.input = input
        self.limits = limits
        self.label = label
        inputBuffer = .allocate(byteCount: ByteStreamReader.chunkSize, alignment: 16)
    }

    deinit { inputBuffer.deallocate() }

    /// Makes compressed input available; false at the end of `input`.
    private func refillInput() throws(ModuleError) -> Bool {
        if inputStart < inputEnd { return true }
        if inputAtEnd { return false }
        inputStart = 0
        inputEnd = try input.fill(inputBuffer)
        if inputEnd == 0 { inputAtEnd = true }
        return inputEnd > 0
    }

    func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(ModuleError) -> Int {
        var outCount = 0
        while outCount == 0, !finished {
            let hasInput = try refillInput()
            let available = UnsafeRawBufferPointer(rebasing: inputBuffer[inputStart..<(hasInput ? inputEnd : inputStart)])
            let step = try decoder.decode(available, into: buffer)
            inputStart += step.consumed
            consumed += step.consumed
            outCount = step.produced
            if step.ended {
                if try refillInput() {
                    // Another gzip member (as `cat a.gz b.gz` makes) or zstd frame follows.
                    decoder.startNextFrame()
                } else {
                    finished = true
                }
            } else if step.consumed == 0, step.produced == 0 {
                guard hasInput else {
                    throw ModuleError(.malformedLayer, "\(label) is a truncated \(decoder.name) stream (it ends before the end of its compressed data): the layer is damaged; rebuild the image")
                }
                throw ModuleError(.malformedLayer, "\(label) is not a valid \(decoder.name) stream (the decompressor makes no progress): the layer is damaged; rebuild the image")
            }
        }
        produced += UInt64(outCount)
        if produced > maxDecompressedBytes {
            throw ModuleError(.tooLarge, "\(label) decompresses to more than \(SizeText.of(maxDecompressedBytes)), the limit for all files together (\(SizeText.limit(limits.maxTotalBytes, "maxTotalBytes"))) plus tar overhead: extraction was stopped; make the module smaller, or raise the limit")
        }
        if produced > Self.ratioCheckThreshold {
            let (allowed, overflow) = UInt64(max(1, consumed)).multipliedReportingOverflow(by: limits.maxCompressionRatio)
            if !overflow, produced > allowed {
                throw ModuleError(.decompressionBomb, "\(label) decompresses to more than \(limits.maxCompressionRatio) times its compressed size (\(produced) bytes from \(consumed) so far, maxCompressionRatio), the mark of a decompression bomb or of extremely repetitive content: extraction was stopped; rebuild the module without such content, or raise the limit")
            }
        }
        return outCount
    }
}
