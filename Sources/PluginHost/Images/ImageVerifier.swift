import Crypto
import Foundation

/// An image that passed every check: all blobs match their digests and sizes, the signature is
/// by a trusted key, and the module manifest is valid. This is the only way to reach the layers.
///
/// The install step unpacks `layers` through `layerData(_:)` (the seam for the extractor: the bytes
/// returned have been verified again against their digest, so nothing unverified is ever unpacked).
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

    /// The bytes of a layer, checked against its digest and size again at the time of reading.
    /// - Throws: `ModuleError` if the layer changed since verification.
    public func layerData(_ layer: OCI.Descriptor) throws(ModuleError) -> Data {
        guard layers.contains(layer) else {
            throw ModuleError(.missingBlob, "layer \(layer.digest) is not part of this image", field: layer.digest.blobPath)
        }
        return try ImageVerifier.blob(layer, in: source)
    }
}

/// Verifies a module image, in this order and before anything is unpacked:
/// 1. layout: `oci-layout`, `index.json`, the image manifest, media types;
/// 2. every blob (image manifest, config, layers) against its descriptor's size, then sha256 digest;
/// 3. the Ed25519 signature over `SignaturePayload` by a key in the trust store;
/// 4. the module manifest schema (`ModuleManifest.decode`).
public struct ImageVerifier: Sendable {
    public let trust: TrustStore

    public init(trust: TrustStore) { self.trust = trust }

    /// Checks an image as it is before anything of it is unpacked: its structure, digests and
    /// signature against the trusted keys.
    ///
    /// - Parameters:
    ///   - source: the image (an OCI layout directory or archive).
    ///   - reference: the tag (`org.opencontainers.image.ref.name`) to select when
    ///     `index.json` lists more than one manifest.
    /// - Throws: `ModuleError`; its `code` says which check failed.
    public func verify(_ source: ImageSource, reference: String? = nil) throws(ModuleError) -> VerifiedImage {
        let unverified = try Self.readStructure(source, reference: reference)

        // 3. Signature by a trusted key.
        let annotations = unverified.imageManifest.annotations ?? [:]
        guard let keyID = annotations[SignaturePayload.keyIDAnnotation],
              let signatureText = annotations[SignaturePayload.signatureAnnotation] else {
            throw ModuleError(.unsigned, "image '\(source.location)' is not signed (no \(SignaturePayload.signatureAnnotation) annotation on its manifest): sign it with `plugin-host pack --key`")
        }
        guard let key = try trust.key(id: keyID) else {
            throw ModuleError(.untrustedKey, "image '\(source.location)' is signed by key \(keyID), which this host does not trust: if you trust the publisher, run `plugin-host trust add <their .pub file>`", field: keyID)
        }
        guard let signature = Data(base64Encoded: signatureText), signature.count == 64 else {
            throw ModuleError(.badSignature, "the signature annotation of image '\(source.location)' is not a base64 Ed25519 signature: the image is damaged or was tampered with")
        }
        let payload = SignaturePayload.make(config: unverified.imageManifest.config.digest, layers: unverified.imageManifest.layers.map(\.digest))
        guard try key.isValidSignature(signature, for: payload) else {
            throw ModuleError(.badSignature, "the signature of image '\(source.location)' by key \(keyID) does not match its module manifest and layers: the image was modified after signing; do not install it")
        }

        // 4. Schema.
        let manifest = try ModuleManifest.decode(unverified.config)
        return VerifiedImage(manifest: manifest, manifestDigest: unverified.imageManifest.config.digest,
                             imageManifestDigest: unverified.imageManifestDigest, layers: unverified.imageManifest.layers,
                             keyID: keyID, source: source)
    }

    /// The module id an image claims, read without checking its signature: only for choosing
    /// which running module to pause before the real verification (install does that).
    public static func claimedModuleID(ofImageAt path: String, reference: String? = nil) -> String? {
        guard let source = try? ImageSource.open(path), let unverified = try? readStructure(source, reference: reference) else { return nil }
        return (try? ModuleManifest.decode(unverified.config))?.id
    }

    struct Unverified {
        var imageManifest: OCI.Manifest
        var imageManifestDigest: Digest
        var config: Data
    }

    /// Steps 1 and 2: layout structure and every blob's size and digest.
    static func readStructure(_ source: ImageSource, reference: String?) throws(ModuleError) -> Unverified {
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
        for layer in manifest.layers { _ = try blob(layer, in: source) }
        return Unverified(imageManifest: manifest, imageManifestDigest: descriptor.digest, config: config)
    }

    /// A blob, checked against the descriptor's size and then its digest.
    static func blob(_ descriptor: OCI.Descriptor, in source: ImageSource) throws(ModuleError) -> Data {
        let path = descriptor.digest.blobPath
        guard let data = try source.read(path) else {
            throw ModuleError(.missingBlob, "image '\(source.location)' lacks blob \(path): the image is incomplete; copy it again", field: path)
        }
        guard Int64(data.count) == descriptor.size else {
            throw ModuleError(.sizeMismatch, "blob \(path) of '\(source.location)' has \(data.count) bytes but its descriptor says \(descriptor.size)\(Int64(data.count) < descriptor.size ? " (truncated)" : ""): the image is damaged; copy it again", field: path)
        }
        let actual = Digest(of: data)
        guard actual == descriptor.digest else {
            throw ModuleError(.digestMismatch, "blob \(path) of '\(source.location)' has digest \(actual), not \(descriptor.digest): the image is damaged or was tampered with", field: path)
        }
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
