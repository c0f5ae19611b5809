import LinuxSupport
import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds and signs a module image from a module directory: `module.json` (the manifest source)
/// and the files that go into the image's single layer (a tar, entries sorted, owner 0, mtime 0,
/// so the same directory packs to the same digests; plain, or compressed with gzip or zstd).
///
/// The layer is never held in memory: `pack` streams it once (through the compressor) through
/// sha256 to sign its digest, and `write` streams it again from the module's files into the
/// output, checking that it comes out with the same digest.
public struct ImagePacker: Sendable {
    public static let manifestFileName = "module.json"
    public let signingKey: ModuleSigningKey

    public init(signingKey: ModuleSigningKey) { self.signingKey = signingKey }

    /// The files of an image layout, by layout-relative path.
    public struct Layout: Sendable {
        var files: [(path: String, content: Blob)]
        public var manifest: ModuleManifest
        public var imageManifestDigest: Digest
        public var tag: String
    }

    /// A layout file's content: bytes in memory (the JSON documents, layers a caller built), or
    /// the module's layer, written from the module directory when the layout is written.
    enum Blob: Sendable {
        case data(Data)
        case layer(LayerTar)
        /// A blob of another image, copied a buffer at a time when the layout is written.
        case copy(ImageSource, OCI.Descriptor)

        var size: UInt64 {
            switch self {
            case let .data(data): UInt64(data.count)
            case let .layer(layer): layer.size
            case let .copy(_, descriptor): UInt64(descriptor.size)
            }
        }

        var digest: Digest {
            switch self {
            case let .data(data): Digest(of: data)
            case let .layer(layer): layer.digest
            case let .copy(_, descriptor): descriptor.digest
            }
        }

        func write(to sink: Tar.Sink) throws(ModuleError) {
            switch self {
            case let .data(data): try sink(data)
            case let .layer(layer): try layer.write(to: sink)
            case let .copy(source, descriptor):
                guard let stream = try source.stream(descriptor.digest.blobPath), stream.size == UInt64(descriptor.size) else {
                    throw ModuleError(.missingBlob, "image '\(source.location)' lacks blob \(descriptor.digest) of \(descriptor.size) bytes", field: descriptor.digest.blobPath)
                }
                var left = stream.size
                while left > 0 {
                    let chunk = try stream.read(upTo: Int(min(left, 1 << 16)))
                    guard !chunk.isEmpty else { throw ModuleError(.io, "image '\(source.location)' ended inside blob \(descriptor.digest)") }
                    try sink(chunk)
                    left -= UInt64(chunk.count)
                }
            }
        }
    }

    /// Builds the layout: the manifest, signature and documents in memory, the layer as a
    /// description of the module's files (their bytes are read when the layout is written).
    /// - Throws: `ModuleError`: `.invalidModuleDirectory` (no module.json, a symlink or special file,
    ///   the library missing), `.io`, the manifest's own schema errors.
    /// - Parameters:
    ///   - moduleDirectory: the directory with `module.json` and the module's files.
    ///   - platform: the platform the module's library is built for (`linux/arm64`), recorded on
    ///     its index.json entry, which `plugin-host index` reads; nil for none.
    ///   - compression: the layer's compression, which decides its media type (`LayerCompression`).
    public func pack(moduleDirectory: String, platform: OCI.PlatformField? = nil, compression: LayerCompression = .none) throws(ModuleError) -> Layout {
        let root = URL(fileURLWithPath: moduleDirectory)
        guard let source = FileManager.default.contents(atPath: root.appendingPathComponent(Self.manifestFileName).path) else {
            throw ModuleError(.invalidModuleDirectory, "'\(moduleDirectory)' has no readable \(Self.manifestFileName): put the module manifest there (see Documentation/ModuleImage.md)", field: Self.manifestFileName)
        }
        let manifest = try ModuleManifest.decode(source)
        let files = try Self.layerFiles(root: root)
        guard files.contains(where: { $0.path == manifest.library.path && !$0.isDirectory }) else {
            throw ModuleError(.invalidModuleDirectory, "field 'library.path' names '\(manifest.library.path)', which is not a file in '\(moduleDirectory)': build the library into the module directory first", field: "library.path")
        }
        if manifest.library.libraryKind == .wasm {
            // A wasm module runs on every platform: an image that claimed one would be picked on that CPU only.
            if let platform {
                throw ModuleError(.invalidValue, "a WebAssembly module runs on every platform, so its image carries none: pack it without --platform (got \(platform))", field: "platform")
            }
            let path = root.appendingPathComponent(manifest.library.path).path
            guard let bytes = FileManager.default.contents(atPath: path) else {
                throw ModuleError(.io, "cannot read '\(path)'", field: "library.path")
            }
            try manifest.checkWasmModule([UInt8](bytes))
        }
        let config = try manifest.canonicalJSON()
        let layer = try LayerTar(root: root.path, files: files, compression: compression)
        return try assemble(config: config, blobs: [(compression.mediaType, .layer(layer))], manifest: manifest, platform: platform)
    }

    /// Signs and lays out an image from a config blob and layer blobs. `pack` calls this after it
    /// has validated the manifest; `manifest` only supplies the title/version annotations and tag.
    /// It does not validate `config` (tests use it to build images that must be refused).
    public func assemble(config: Data, layers: [(mediaType: String, data: Data)], manifest: ModuleManifest) throws(ModuleError) -> Layout {
        try assemble(config: config, blobs: layers.map { ($0.mediaType, .data($0.data)) }, manifest: manifest)
    }

    func assemble(config: Data, blobs layers: [(mediaType: String, blob: Blob)], manifest: ModuleManifest, platform: OCI.PlatformField? = nil) throws(ModuleError) -> Layout {
        let configDescriptor = OCI.Descriptor(mediaType: ModuleManifest.mediaType, digest: Digest(of: config), size: Int64(config.count))
        let layerDescriptors = layers.map { OCI.Descriptor(mediaType: $0.mediaType, digest: $0.blob.digest, size: Int64($0.blob.size)) }
        let payload = SignaturePayload.make(config: configDescriptor.digest, layers: layerDescriptors.map(\.digest))
        let signature = try signingKey.sign(payload)
        let imageManifest = OCI.Manifest(
            schemaVersion: 2, mediaType: OCI.manifestMediaType, config: configDescriptor, layers: layerDescriptors,
            annotations: [
                SignaturePayload.keyIDAnnotation: signingKey.publicKey.keyID,
                SignaturePayload.signatureAnnotation: signature.base64EncodedString(),
                "org.opencontainers.image.title": manifest.id,
                "org.opencontainers.image.version": manifest.version.description,
            ])
        let manifestData = try OCI.encode(imageManifest)
        let manifestDigest = Digest(of: manifestData)
        // Tags may not contain '+' (OCI distribution's tag grammar), so build metadata uses '_'.
        let tag = String(manifest.version.description.map { $0 == "+" ? "_" : $0 })
        let index = OCI.Index(schemaVersion: 2, mediaType: OCI.indexMediaType, manifests: [
            OCI.Descriptor(mediaType: OCI.manifestMediaType, digest: manifestDigest, size: Int64(manifestData.count),
                           annotations: [OCI.refNameAnnotation: tag], platform: platform),
        ])
        var files: [(path: String, content: Blob)] = [
            ("oci-layout", .data(try OCI.encode(OCI.Layout(imageLayoutVersion: OCI.layoutVersion)))),
            ("index.json", .data(try OCI.encode(index))),
            (configDescriptor.digest.blobPath, .data(config)),
        ]
        for (descriptor, layer) in zip(layerDescriptors, layers) where !files.contains(where: { $0.path == descriptor.digest.blobPath }) {
            files.append((descriptor.digest.blobPath, layer.blob))
        }
        files.append((manifestDigest.blobPath, .data(manifestData)))
        return Layout(files: files, manifest: manifest, imageManifestDigest: manifestDigest, tag: tag)
    }

    /// One multi-platform image from images of the same module and version packed for different
    /// platforms (`pack --platform`): an image index (OCI image-spec) whose entries are their
    /// manifests, each still signed as it was, with every blob they need. `index.json` lists the
    /// index, tagged `tag` (default: the version). `skopeo copy --all` pushes all of it.
    /// - Throws: `ModuleError` `.invalidValue` for images of different modules or versions, one
    ///   without a platform, or two for the same platform; the images' own structure errors.
    public static func index(_ images: [ImageSource], tag: String? = nil) throws(ModuleError) -> Layout {
        guard !images.isEmpty else { throw ModuleError(.invalidValue, "give at least one image to put in the index", field: "images") }
        var entries: [OCI.Descriptor] = []
        var files: [(path: String, content: Blob)] = []
        var first: ModuleManifest?
        for source in images {
            let unverified = try ImageVerifier.readStructure(source, reference: nil, checkingLayers: false)
            let manifest = try ModuleManifest.decode(unverified.config)
            guard let indexData = try source.read("index.json"),
                  let entry = (try? JSONDecoder().decode(OCI.Index.self, from: indexData))?.manifests.first(where: { $0.digest == unverified.imageManifestDigest }) else {
                throw ModuleError(.malformedLayout, "image '\(source.location)' has no index.json entry for its manifest", field: "index.json")
            }
            guard let platform = entry.platform else {
                throw ModuleError(.invalidValue, "image '\(source.location)' says nothing about its platform: pack it with `plugin-host pack --platform linux/arm64` (or the platform its library is built for)", field: "platform")
            }
            if let first {
                guard first.id == manifest.id, first.version == manifest.version else {
                    throw ModuleError(.invalidValue, "image '\(source.location)' is \(manifest.id) \(manifest.version), not \(first.id) \(first.version): an index holds one module version built for several platforms", field: "images")
                }
            } else {
                first = manifest
            }
            if let twin = entries.first(where: { $0.platform == platform }) {
                throw ModuleError(.invalidValue, "two images are for \(platform) (\(twin.digest) and \(unverified.imageManifestDigest)): give one per platform", field: "platform")
            }
            entries.append(OCI.Descriptor(mediaType: OCI.manifestMediaType, digest: unverified.imageManifestDigest, size: entry.size, platform: platform))
            let blobs = [entry] + [unverified.imageManifest.config] + unverified.imageManifest.layers
            for blob in blobs where !files.contains(where: { $0.path == blob.digest.blobPath }) {
                files.append((blob.digest.blobPath, .copy(source, blob)))
            }
        }
        guard let module = first else { throw ModuleError(.invalidValue, "no image", field: "images") }
        let imageIndex = OCI.Index(schemaVersion: 2, mediaType: OCI.indexMediaType, manifests: entries,
                                   annotations: ["org.opencontainers.image.title": module.id, "org.opencontainers.image.version": module.version.description])
        let indexBlob = try OCI.encode(imageIndex)
        let indexDigest = Digest(of: indexBlob)
        let tag = tag ?? String(module.version.description.map { $0 == "+" ? "_" : $0 })
        let layoutIndex = OCI.Index(schemaVersion: 2, mediaType: OCI.indexMediaType, manifests: [
            OCI.Descriptor(mediaType: OCI.indexMediaType, digest: indexDigest, size: Int64(indexBlob.count), annotations: [OCI.refNameAnnotation: tag]),
        ])
        files.insert(contentsOf: [
            ("oci-layout", .data(try OCI.encode(OCI.Layout(imageLayoutVersion: OCI.layoutVersion)))),
            ("index.json", .data(try OCI.encode(layoutIndex))),
            (indexDigest.blobPath, .data(indexBlob)),
        ], at: 0)
        return Layout(files: files, manifest: module, imageManifestDigest: indexDigest, tag: tag)
    }

    /// Writes a layout to `output`: a `.tar` file if the name ends in `.tar`, else a directory
    /// (which must not exist yet, or be empty). Each file is written a chunk at a time to a
    /// temporary name and renamed into place.
    /// - Throws: `ModuleError` `.io`; `.invalidModuleDirectory` if the module's files changed
    ///   since `pack` (their digest was signed).
    public static func write(_ layout: Layout, to output: String) throws(ModuleError) {
        if output.hasSuffix(".tar") {
            try writeFile(output) { (sink: Tar.Sink) throws(ModuleError) in
                try sink(Tar.header(path: "blobs", isDirectory: true, mode: 0o755, size: 0))
                try sink(Tar.header(path: "blobs/sha256", isDirectory: true, mode: 0o755, size: 0))
                for file in layout.files {
                    try sink(Tar.header(path: file.path, isDirectory: false, mode: 0o644, size: file.content.size))
                    try file.content.write(to: sink)
                    try sink(Tar.padding(file.content.size))
                }
                try sink(Tar.endOfArchive)
            }
            return
        }
        let fm = FileManager.default
        do {
            var status = stat()
            if lstat(output, &status) == 0 {
                guard status.st_mode & S_IFMT == S_IFDIR, try fm.contentsOfDirectory(atPath: output).isEmpty else {
                    throw ModuleError(.io, "'\(output)' already exists and is not an empty directory: choose a new output path", field: output)
                }
            }
            try fm.createDirectory(atPath: output + "/blobs/sha256", withIntermediateDirectories: true)
        } catch let error as ModuleError {
            throw error
        } catch {
            throw ModuleError(.io, "cannot write image to '\(output)'", field: output, underlying: "\(error)")
        }
        for file in layout.files {
            try writeFile(output + "/" + file.path) { (sink: Tar.Sink) throws(ModuleError) in try file.content.write(to: sink) }
        }
    }

    /// Writes `path` through `body`'s sink into `<path>.partial`, then renames it into place; on
    /// any error the partial file is removed.
    static func writeFile(_ path: String, _ body: (Tar.Sink) throws(ModuleError) -> Void) throws(ModuleError) {
        let partial = path + ".partial"
        let fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ModuleError(.io, "cannot create '\(partial)': check that its directory exists and is writable", field: path, underlying: ModuleError.errnoText())
        }
        do throws(ModuleError) {
            try body { (data: Data) throws(ModuleError) in
                if let failed = data.withUnsafeBytes({ writeAll(fd, $0) }) { throw ModuleError(.io, "cannot write '\(path)'", field: path, underlying: ModuleError.errnoText(failed)) }
            }
            guard close(fd) == 0 else {
                throw ModuleError(.io, "cannot write '\(path)'", field: path, underlying: ModuleError.errnoText())
            }
            guard rename(partial, path) == 0 else {
                throw ModuleError(.io, "cannot rename '\(partial)' to '\(path)'", field: path, underlying: ModuleError.errnoText())
            }
        } catch {
            _ = close(fd)
            unlink(partial)
            throw error
        }
    }

    /// The layer's files: every file and directory under `root` except module.json, sorted.
    /// Symlinks and special files are refused; modes keep only the executable bit.
    static func layerFiles(root: URL) throws(ModuleError) -> [LayerTar.File] {
        let fm = FileManager.default
        var files: [LayerTar.File] = []
        func walk(_ relative: String) throws(ModuleError) {
            let url = relative.isEmpty ? root : root.appendingPathComponent(relative)
            let names: [String]
            do { names = try fm.contentsOfDirectory(atPath: url.path).sorted() } catch {
                throw ModuleError(.io, "cannot list '\(url.path)'", field: url.path, underlying: "\(error)")
            }
            for name in names {
                let path = relative.isEmpty ? name : relative + "/" + name
                if path == manifestFileName { continue }
                let full = root.appendingPathComponent(path).path
                var status = stat()
                guard lstat(full, &status) == 0 else {
                    throw ModuleError(.io, "cannot read '\(full)'", field: path, underlying: ModuleError.errnoText())
                }
                let mode: UInt32 = UInt32(status.st_mode) & 0o111 != 0 ? 0o755 : 0o644
                switch status.st_mode & S_IFMT {
                case S_IFDIR:
                    files.append(LayerTar.File(path: path, isDirectory: true, mode: 0o755, size: 0))
                    try walk(path)
                case S_IFREG:
                    files.append(LayerTar.File(path: path, isDirectory: false, mode: mode, size: UInt64(status.st_size)))
                default:
                    let kind = status.st_mode & S_IFMT == S_IFLNK ? "symbolic link" : "special file"
                    throw ModuleError(.invalidModuleDirectory, "'\(path)' in the module directory is a \(kind); only regular files and directories can be packed (replace symlinks with copies)", field: path)
                }
            }
        }
        try walk("")
        return files
    }
}

/// The module's layer: a tar of the module directory's files, produced a chunk at a time from
/// the files on disk (and compressed a chunk at a time) whenever it is written. `init` streams it
/// once to learn its size and digest; both are of the compressed bytes.
struct LayerTar: Sendable {
    struct File: Sendable {
        var path: String
        var isDirectory: Bool
        var mode: UInt32
        var size: UInt64
    }

    let root: String
    let files: [File]
    let compression: LayerCompression
    private(set) var size: UInt64 = 0
    private(set) var digest: Digest

    /// - Throws: `ModuleError` `.io` if a file cannot be read, `.invalidModuleDirectory` if one
    ///   changes size while it is read.
    init(root: String, files: [File], compression: LayerCompression = .none) throws(ModuleError) {
        self.root = root
        self.files = files
        self.compression = compression
        var hasher = SHA256()
        var size: UInt64 = 0
        try Self.stream(root: root, files: files, compression: compression) { (data: Data) throws(ModuleError) in
            hasher.update(data: data)
            size += UInt64(data.count)
        }
        self.size = size
        digest = Digest(hasher.finalize())
    }

    /// Writes the tar to `sink`, checking that it is the one whose digest was signed.
    /// - Throws: `ModuleError` `.invalidModuleDirectory` if the module's files changed since
    ///   `pack`, `.io`, or the sink's error.
    func write(to sink: Tar.Sink) throws(ModuleError) {
        var hasher = SHA256()
        try Self.stream(root: root, files: files, compression: compression) { (data: Data) throws(ModuleError) in
            hasher.update(data: data)
            try sink(data)
        }
        guard Digest(hasher.finalize()) == digest else {
            throw ModuleError(.invalidModuleDirectory, "the files of '\(root)' changed while the image was packed, so its layer no longer matches the signed digest: pack again", field: root)
        }
    }

    /// The tar, through a new compressor unless `compression` is `.none`.
    private static func stream(root: String, files: [File], compression: LayerCompression, _ sink: Tar.Sink) throws(ModuleError) {
        guard compression != .none else { return try stream(root: root, files: files, sink) }
        let compressor = try LayerCompressor(compression)
        try stream(root: root, files: files) { (data: Data) throws(ModuleError) in try compressor.write(data, to: sink) }
        try compressor.finish(to: sink)
    }

    private static func stream(root: String, files: [File], _ sink: Tar.Sink) throws(ModuleError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ByteStreamReader.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        for file in files {
            try sink(Tar.header(path: file.path, isDirectory: file.isDirectory, mode: file.mode, size: file.size))
            guard !file.isDirectory else { continue }
            let changed = ModuleError(.invalidModuleDirectory, "'\(file.path)' in '\(root)' changed size while the image was packed: pack again when the module directory is complete", field: file.path)
            guard let source = try FileRegionSource.openFile(root + "/" + file.path, what: "'\(file.path)' in '\(root)'",
                                                             region: ImageSource.Region(offset: 0, size: file.size)) else { throw changed }
            var written: UInt64 = 0
            while true {
                let count = try source.fill(buffer)
                if count == 0 { break }
                try sink(Data(UnsafeRawBufferPointer(rebasing: buffer[..<count])))
                written += UInt64(count)
            }
            guard written == file.size else { throw changed }
            try sink(Tar.padding(file.size))
        }
        try sink(Tar.endOfArchive)
    }
}
