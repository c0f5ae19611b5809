import Crypto
import ModuleProtocol
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A `sha256:<64 lowercase hex>` content digest. Only sha256 is accepted, and the hex is checked,
/// so a digest can be turned into a blob path without any path traversal.
public struct Digest: Sendable, Hashable, Codable, CustomStringConvertible {
    public let hex: String

    public init?(_ text: String) {
        guard text.hasPrefix("sha256:") else { return nil }
        let hex = String(text.dropFirst("sha256:".count))
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        self.hex = hex
    }

    /// The digest of `data`.
    public init(of data: Data) {
        self.init(SHA256.hash(data: data))
    }

    /// A digest computed with swift-crypto (incrementally: `SHA256().update(…)…finalize()`).
    init(_ digest: SHA256.Digest) {
        hex = ModuleProtocol.hex(Array(digest))
    }

    public var description: String { "sha256:" + hex }
    /// The blob's path inside an image layout.
    public var blobPath: String { "blobs/sha256/" + hex }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let digest = Digest(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not a sha256:<64 hex> digest")
        }
        self = digest
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// OCI image-spec v1.1 structures, only the fields this host reads and writes.
public enum OCI {
    public static let layoutVersion = "1.0.0"
    public static let indexMediaType = "application/vnd.oci.image.index.v1+json"
    public static let manifestMediaType = "application/vnd.oci.image.manifest.v1+json"
    public static let layerTar = "application/vnd.oci.image.layer.v1.tar"
    public static let layerTarGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let layerTarZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let acceptedLayerMediaTypes: Set<String> = Set(LayerCompression.allCases.map(\.mediaType))
    /// The tag annotation skopeo and umoci use in `index.json`.
    public static let refNameAnnotation = "org.opencontainers.image.ref.name"

    public struct Descriptor: Codable, Sendable, Equatable {
        public var mediaType: String
        public var digest: Digest
        public var size: Int64
        public var annotations: [String: String]?
        /// In an index: the platform the manifest is for (`pack --platform`).
        public var platform: PlatformField?
        public init(mediaType: String, digest: Digest, size: Int64, annotations: [String: String]? = nil, platform: PlatformField? = nil) {
            self.mediaType = mediaType
            self.digest = digest
            self.size = size
            self.annotations = annotations
            self.platform = platform
        }
    }

    /// An index entry's `platform`: `os`, `architecture` and, for ARM, `variant`.
    public struct PlatformField: Codable, Sendable, Hashable, CustomStringConvertible {
        public var os: String
        public var architecture: String
        public var variant: String?

        public init(os: String = "linux", architecture: String, variant: String? = nil) {
            self.os = os
            self.architecture = architecture
            self.variant = variant
        }

        /// Parses `linux/arm64`, `linux/arm/v7`; nil for anything else.
        public init?(_ text: String) {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard (2...3).contains(parts.count), !parts.contains(where: \.isEmpty),
                  parts.allSatisfy({ $0.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") } }) else { return nil }
            self.init(os: parts[0], architecture: parts[1], variant: parts.count == 3 ? parts[2] : nil)
        }

        public var description: String { os + "/" + architecture + (variant.map { "/" + $0 } ?? "") }
    }

    public struct Layout: Codable, Sendable {
        public var imageLayoutVersion: String
    }

    public struct Index: Codable, Sendable {
        public var schemaVersion: Int
        public var mediaType: String?
        public var manifests: [Descriptor]
        public var annotations: [String: String]?
    }

    public struct Manifest: Codable, Sendable {
        public var schemaVersion: Int
        public var mediaType: String?
        public var config: Descriptor
        public var layers: [Descriptor]
        public var annotations: [String: String]?
    }

    package static func encode<T: Encodable>(_ value: T) throws(ModuleError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { return try encoder.encode(value) } catch {
            throw ModuleError(.io, "could not encode \(T.self)", underlying: "\(error)")
        }
    }
}
