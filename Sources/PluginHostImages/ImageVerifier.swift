import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An image that passed every check: all blobs match their digests and sizes, the signature is
/// by a trusted key that may sign this module, and the module manifest is valid. This is the
/// only way to reach the layers.
///
/// The install step unpacks `layers` through `layerStream(_:)` (the seam for the extractor: the
/// bytes are checked against their digest again while they are read, so nothing unverified is
/// ever kept).
public struct VerifiedImage: Sendable {
    public let manifest: ModuleManifest
    /// The digest of the module manifest blob (the config), as signed.
    public let manifestDigest: Digest
    /// The OCI image manifest's digest (what `skopeo inspect --raw` shows).
    public let imageManifestDigest: Digest
    public let layers: [OCI.Descriptor]
    /// The id of the trusted key that signed the image.
    public let keyID: String
    let source: ImageSource

    /// A layer's bytes as a stream, read from the image again and checked against its size and
    /// digest as they go by: reading past its size throws `.sizeMismatch` at once, and its end
    /// (`fill` returning 0) throws `.sizeMismatch` or `.digestMismatch` if the layer changed since
    /// verification. An extraction that reads a layer to its end has therefore unpacked exactly
    /// the verified bytes, or failed (and removed what it unpacked).
    /// - Throws: `ModuleError` `.missingBlob`, `.sizeMismatch`, `.io`.
    func layerStream(_ layer: OCI.Descriptor) throws(ModuleError) -> VerifyingByteSource {
        guard layers.contains(layer) else {
            throw ModuleError(.missingBlob, "layer \(layer.digest) is not part of this image", field: layer.digest.blobPath)
        }
        return try ImageVerifier.openBlob(layer, in: source)
    }

    /// The whole bytes of a layer, checked against its digest and size again at the time of
    /// reading. This holds the layer in memory: installing streams it instead (`LayerExtractor`).
    /// - Throws: `ModuleError` if the layer changed since verification.
    public func layerData(_ layer: OCI.Descriptor) throws(ModuleError) -> Data {
        let stream = try layerStream(layer)
        let data = try stream.read(upTo: Int(layer.size))
        try stream.finish()
        return data
    }
}

/// Verifies a module image, in this order and before anything is unpacked:
/// 1. layout: `oci-layout`, `index.json`, the image manifest, media types;
/// 2. every blob (image manifest, config, layers) against its descriptor's size, then sha256 digest;
/// 3. the Ed25519 signature over `SignaturePayload` by a key in the trust store;
/// 4. the module manifest schema (`ModuleManifest.decode`);
/// 5. the signing key's scope (the module id) and expiry (`TrustedKey.authorize`).
public struct ImageVerifier: Sendable {
    public let trust: TrustStore

    public init(trust: TrustStore) { self.trust = trust }

    /// Checks an image as it is before anything of it is unpacked: its structure, digests and
    /// signature against the trusted keys, and that the key may sign this module now.
    ///
    /// - Parameters:
    ///   - source: the image (an OCI layout directory or archive).
    ///   - reference: the tag (`org.opencontainers.image.ref.name`) to select when
    ///     `index.json` lists more than one manifest.
    ///   - now: the time a key's expiry is checked against: the device clock, unless a test says.
    /// - Throws: `ModuleError`; its `code` says which check failed.
    public func verify(_ source: ImageSource, reference: String? = nil, at now: Date = Date()) throws(ModuleError) -> VerifiedImage {
        let unverified = try Self.readStructure(source, reference: reference)

        // 3. Signature by a trusted key.
        let annotations = unverified.imageManifest.annotations ?? [:]
        guard let keyID = annotations[SignaturePayload.keyIDAnnotation],
              let signatureText = annotations[SignaturePayload.signatureAnnotation] else {
            throw ModuleError(.unsigned, "image '\(source.location)' is not signed (no \(SignaturePayload.signatureAnnotation) annotation on its manifest): sign it with `plugin-host pack --key`")
        }
        guard let trusted = try trust.entry(id: keyID) else {
            throw ModuleError(.untrustedKey, "image '\(source.location)' is signed by key \(keyID), which this host does not trust: if you trust the publisher, run `plugin-host trust add <their .pub file> --modules '<the ids they publish, e.g. com.example.*>'`", field: keyID)
        }
        guard let signature = Data(base64Encoded: signatureText), signature.count == 64 else {
            throw ModuleError(.badSignature, "the signature annotation of image '\(source.location)' is not a base64 Ed25519 signature: the image is damaged or was tampered with")
        }
        let payload = SignaturePayload.make(config: unverified.imageManifest.config.digest, layers: unverified.imageManifest.layers.map(\.digest))
        guard try trusted.key.isValidSignature(signature, for: payload) else {
            throw ModuleError(.badSignature, "the signature of image '\(source.location)' by key \(keyID) does not match its module manifest and layers: the image was modified after signing; do not install it")
        }

        // 4. Schema.
        let manifest = try ModuleManifest.decode(unverified.config)

        // 5. The key may sign this module, and has not expired.
        try trusted.authorize(manifest.id, at: now, image: source.location)
        return VerifiedImage(manifest: manifest, manifestDigest: unverified.imageManifest.config.digest,
                             imageManifestDigest: unverified.imageManifestDigest, layers: unverified.imageManifest.layers,
                             keyID: keyID, source: source)
    }

    /// The module id an image claims, read without checking its signature: only for choosing
    /// which running module to pause before the real verification (install does that).
    public static func claimedModuleID(ofImageAt path: String, reference: String? = nil) -> String? {
        guard let source = try? ImageSource.open(path) else { return nil }
        return claimedModuleID(of: source, reference: reference)
    }

    public static func claimedModuleID(of source: ImageSource, reference: String? = nil) -> String? {
        guard let unverified = try? readStructure(source, reference: reference, checkingLayers: false) else { return nil }
        return (try? ModuleManifest.decode(unverified.config))?.id
    }

    struct Unverified {
        var imageManifest: OCI.Manifest
        var imageManifestDigest: Digest
        var config: Data
    }

    /// Steps 1 and 2: layout structure and every blob's size and digest (the layers' only if
    /// `checkingLayers`; each is read through once, a chunk at a time).
    static func readStructure(_ source: ImageSource, reference: String?, checkingLayers: Bool = true) throws(ModuleError) -> Unverified {
        let where_ = source.location
        guard let layoutData = try source.read("oci-layout") else {
            throw ModuleError(.malformedLayout, "'\(where_)' is not an OCI image layout: it has no oci-layout file", field: "oci-layout")
        }
        let layout: OCI.Layout = try decodeLayoutJSON(layoutData, file: "oci-layout", in: where_)
        guard layout.imageLayoutVersion == OCI.layoutVersion else {
            throw ModuleError(.malformedLayout, "'\(where_)' has imageLayoutVersion \(layout.imageLayoutVersion); only \(OCI.layoutVersion) is supported", field: "oci-layout")
        }
        guard let indexData = try source.read("index.json") else {
            throw ModuleError(.malformedLayout, "'\(where_)' has no index.json", field: "index.json")
        }
        let index: OCI.Index = try decodeLayoutJSON(indexData, file: "index.json", in: where_)
        guard index.schemaVersion == 2 else {
            throw ModuleError(.malformedLayout, "index.json of '\(where_)' has schemaVersion \(index.schemaVersion); expected 2", field: "index.json")
        }
        let candidates = index.manifests.filter { descriptor in
            reference.map { descriptor.annotations?[OCI.refNameAnnotation] == $0 } ?? true
        }
        guard candidates.count == 1, let descriptor = candidates.first else {
            let tags = index.manifests.compactMap { $0.annotations?[OCI.refNameAnnotation] }
            throw ModuleError(.malformedLayout, candidates.isEmpty
                ? "index.json of '\(where_)' lists no manifest\(reference.map { " tagged '\($0)'" } ?? "") (tags: \(tags.joined(separator: ", ")))"
                : "index.json of '\(where_)' lists \(candidates.count) manifests: choose one by tag (\(tags.joined(separator: ", ")))", field: "index.json")
        }
        guard descriptor.mediaType == OCI.manifestMediaType else {
            if descriptor.mediaType == OCI.indexMediaType {
                throw ModuleError(.unsupportedMediaType, "'\(where_)' is a multi-platform image (an image index): push it to a registry (`skopeo copy --all`) and install from there, which picks this device's platform, or install the image packed for this platform", field: "index.json")
            }
            throw ModuleError(.unsupportedMediaType, "index.json of '\(where_)' points at a '\(descriptor.mediaType)'; expected an OCI image manifest (\(OCI.manifestMediaType))", field: "index.json")
        }
        let manifestData = try blob(descriptor, in: source)
        let manifest: OCI.Manifest = try decodeLayoutJSON(manifestData, file: descriptor.digest.blobPath, in: where_)
        guard manifest.schemaVersion == 2, manifest.mediaType == nil || manifest.mediaType == OCI.manifestMediaType else {
            throw ModuleError(.malformedLayout, "the image manifest of '\(where_)' is not an OCI image manifest (schemaVersion 2)", field: descriptor.digest.blobPath)
        }
        guard manifest.config.mediaType == ModuleManifest.mediaType else {
            throw ModuleError(.unsupportedMediaType, "the config of '\(where_)' has media type '\(manifest.config.mediaType)': this is not a module image (expected \(ModuleManifest.mediaType))", field: manifest.config.digest.blobPath)
        }
        for layer in manifest.layers where !OCI.acceptedLayerMediaTypes.contains(layer.mediaType) {
            throw ModuleError(.unsupportedMediaType, "layer \(layer.digest) of '\(where_)' has media type '\(layer.mediaType)'; accepted: \(OCI.acceptedLayerMediaTypes.sorted().joined(separator: ", "))", field: layer.digest.blobPath)
        }
        let config = try blob(manifest.config, in: source)
        if checkingLayers {
            for layer in manifest.layers { try openBlob(layer, in: source).finish() }
        }
        return Unverified(imageManifest: manifest, imageManifestDigest: descriptor.digest, config: config)
    }

    /// A blob as a stream that checks its digest as it is read (`VerifyingByteSource`), after
    /// checking that it exists and that its stored size is the descriptor's.
    /// - Throws: `ModuleError` `.missingBlob`, `.sizeMismatch`, `.io`.
    static func openBlob(_ descriptor: OCI.Descriptor, in source: ImageSource) throws(ModuleError) -> VerifyingByteSource {
        let path = descriptor.digest.blobPath
        guard let file = try source.stream(path) else {
            throw ModuleError(.missingBlob, "image '\(source.location)' lacks blob \(path): the image is incomplete; copy it again", field: path)
        }
        guard Int64(exactly: file.size) == descriptor.size else {
            throw VerifyingByteSource.sizeMismatch(path, in: source.location, size: "\(file.size) bytes", truncated: Int64(exactly: file.size) ?? .max < descriptor.size,
                                                   expected: descriptor.size)
        }
        return VerifyingByteSource(file, descriptor: descriptor, location: source.location)
    }

    /// A small blob (the image manifest, the config) whole, checked against the descriptor's
    /// size and then its digest.
    static func blob(_ descriptor: OCI.Descriptor, in source: ImageSource) throws(ModuleError) -> Data {
        let stream = try openBlob(descriptor, in: source)
        guard UInt64(descriptor.size) <= ImageSource.maxDocumentBytes else {
            throw ModuleError(.malformedLayout, "blob \(descriptor.digest.blobPath) of '\(source.location)' is \(SizeText.of(UInt64(descriptor.size))), more than a manifest or module manifest can be (\(SizeText.of(ImageSource.maxDocumentBytes))): this is not a module image", field: descriptor.digest.blobPath)
        }
        let data = try stream.read(upTo: Int(descriptor.size))
        try stream.finish()
        return data
    }

    static func decodeLayoutJSON<T: Decodable>(_ data: Data, file: String, in location: String) throws(ModuleError) -> T {
        do { return try JSONDecoder().decode(T.self, from: data) } catch let error as DecodingError {
            let inner = ModuleError(decoding: error, document: file)
            throw ModuleError(.malformedLayout, "\(file) of '\(location)' is not valid: \(inner.message)", field: file, underlying: inner.underlying)
        } catch {
            throw ModuleError(.malformedLayout, "\(file) of '\(location)' is not valid", field: file, underlying: "\(error)")
        }
    }
}

/// A blob's bytes as they are read, checked against its descriptor: a byte beyond its size is
/// refused at once, and at the end of the stream its size and sha256 digest are checked
/// (`.sizeMismatch`, `.digestMismatch`). The digest is computed incrementally, a chunk at a time.
final class VerifyingByteSource: ByteSource {
    private let source: any ByteSource
    let descriptor: OCI.Descriptor
    private let location: String
    private var hasher = SHA256()
    private var count: UInt64 = 0
    private var checked = false

    init(_ source: any ByteSource, descriptor: OCI.Descriptor, location: String) {
        self.source = source
        self.descriptor = descriptor
        self.location = location
    }

    static func sizeMismatch(_ path: String, in location: String, size: String, truncated: Bool, expected: Int64) -> ModuleError {
        ModuleError(.sizeMismatch, "blob \(path) of '\(location)' has \(size) but its descriptor says \(expected)\(truncated ? " (truncated)" : ""): the image is damaged; copy it again", field: path)
    }

    func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(ModuleError) -> Int {
        let filled = try source.fill(buffer)
        guard filled > 0 else {
            try checkEnd()
            return 0
        }
        count += UInt64(filled)
        guard Int64(exactly: count) ?? .max <= descriptor.size else {
            throw Self.sizeMismatch(descriptor.digest.blobPath, in: location, size: "more than \(descriptor.size) bytes", truncated: false, expected: descriptor.size)
        }
        hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[..<filled]))
        return filled
    }

    /// Reads whatever is left, discarding it, and checks size and digest.
    func finish() throws(ModuleError) {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: ByteStreamReader.chunkSize, alignment: 16)
        defer { scratch.deallocate() }
        while try fill(scratch) > 0 {}
    }

    private func checkEnd() throws(ModuleError) {
        guard !checked else { return }
        let path = descriptor.digest.blobPath
        guard Int64(exactly: count) == descriptor.size else {
            throw Self.sizeMismatch(path, in: location, size: "\(count) bytes", truncated: true, expected: descriptor.size)
        }
        let actual = Digest(hasher.finalize())
        guard actual == descriptor.digest else {
            throw ModuleError(.digestMismatch, "blob \(path) of '\(location)' has digest \(actual), not \(descriptor.digest): the image is damaged or was tampered with", field: path)
        }
        checked = true
    }
}
