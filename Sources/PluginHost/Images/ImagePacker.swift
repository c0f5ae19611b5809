import Foundation

/// Builds and signs a module image from a module directory: `module.json` (the manifest source)
/// and the files that go into the image's single layer (a plain tar, entries sorted, owner 0,
/// mtime 0, so the same directory packs to the same digests).
public struct ImagePacker: Sendable {
    public static let manifestFileName = "module.json"
    public let signingKey: ModuleSigningKey

    public init(signingKey: ModuleSigningKey) { self.signingKey = signingKey }

    /// The files of an image layout, by layout-relative path.
    public struct Layout: Sendable {
        public var files: [(path: String, data: Data)]
        public var manifest: ModuleManifest
        public var imageManifestDigest: Digest
        public var tag: String
    }

    /// Builds the layout in memory.
    /// - Throws: `ModuleError`: `.invalidModuleDirectory` (no module.json, a symlink or special file,
    ///   the library missing), the manifest's own schema errors.
    public func pack(moduleDirectory: String) throws(ModuleError) -> Layout {
        let root = URL(fileURLWithPath: moduleDirectory)
        guard let source = FileManager.default.contents(atPath: root.appendingPathComponent(Self.manifestFileName).path) else {
            throw ModuleError(.invalidModuleDirectory, "'\(moduleDirectory)' has no readable \(Self.manifestFileName): put the module manifest there (see Documentation/ModuleImage.md)", field: Self.manifestFileName)
        }
        let manifest = try ModuleManifest.decode(source)
        let entries = try Self.layerEntries(root: root)
        guard entries.contains(where: { $0.path == manifest.library.path && !$0.isDirectory }) else {
            throw ModuleError(.invalidModuleDirectory, "field 'library.path' names '\(manifest.library.path)', which is not a file in '\(moduleDirectory)': build the library into the module directory first", field: "library.path")
        }
        let config = try manifest.canonicalJSON()
        return try assemble(config: config, layers: [(OCI.layerTar, try Tar.archive(entries))], manifest: manifest)
    }

    /// Signs and lays out an image from a config blob and layer blobs. `pack` calls this after it
    /// has validated the manifest; `manifest` only supplies the title/version annotations and tag.
    /// It does not validate `config` (tests use it to build images that must be refused).
    public func assemble(config: Data, layers: [(mediaType: String, data: Data)], manifest: ModuleManifest) throws(ModuleError) -> Layout {
        let configDescriptor = OCI.Descriptor(mediaType: ModuleManifest.mediaType, digest: Digest(of: config), size: Int64(config.count))
        let layerDescriptors = layers.map { OCI.Descriptor(mediaType: $0.mediaType, digest: Digest(of: $0.data), size: Int64($0.data.count)) }
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
        let tag = manifest.version.description.replacingOccurrences(of: "+", with: "_")
        let index = OCI.Index(schemaVersion: 2, mediaType: OCI.indexMediaType, manifests: [
            OCI.Descriptor(mediaType: OCI.manifestMediaType, digest: manifestDigest, size: Int64(manifestData.count),
                           annotations: [OCI.refNameAnnotation: tag]),
        ])
        var files: [(path: String, data: Data)] = [
            ("oci-layout", try OCI.encode(OCI.Layout(imageLayoutVersion: OCI.layoutVersion))),
            ("index.json", try OCI.encode(index)),
            (configDescriptor.digest.blobPath, config),
        ]
        for (descriptor, layer) in zip(layerDescriptors, layers) where !files.contains(where: { $0.path == descriptor.digest.blobPath }) {
            files.append((descriptor.digest.blobPath, layer.data))
        }
        files.append((manifestDigest.blobPath, manifestData))
        return Layout(files: files, manifest: manifest, imageManifestDigest: manifestDigest, tag: tag)
    }

    /// Writes a layout to `output`: a `.tar` file if the name ends in `.tar`, else a directory
    /// (which must not exist yet, or be empty).
    /// - Throws: `ModuleError` `.io`.
    public static func write(_ layout: Layout, to output: String) throws(ModuleError) {
        let fm = FileManager.default
        do {
            if output.hasSuffix(".tar") {
                var entries: [Tar.Entry] = [Tar.Entry(path: "blobs", isDirectory: true, mode: 0o755, data: Data()),
                                            Tar.Entry(path: "blobs/sha256", isDirectory: true, mode: 0o755, data: Data())]
                entries += layout.files.map { Tar.Entry(path: $0.path, isDirectory: false, mode: 0o644, data: $0.data) }
                try Tar.archive(entries).write(to: URL(fileURLWithPath: output), options: .atomic)
                return
            }
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: output, isDirectory: &isDirectory) {
                guard isDirectory.boolValue, try fm.contentsOfDirectory(atPath: output).isEmpty else {
                    throw ModuleError(.io, "'\(output)' already exists and is not an empty directory: choose a new output path", field: output)
                }
            }
            let root = URL(fileURLWithPath: output)
            try fm.createDirectory(at: root.appendingPathComponent("blobs/sha256"), withIntermediateDirectories: true)
            for file in layout.files {
                try file.data.write(to: root.appendingPathComponent(file.path), options: .atomic)
            }
        } catch let error as ModuleError {
            throw error
        } catch {
            throw ModuleError(.io, "cannot write image to '\(output)'", field: output, underlying: "\(error)")
        }
    }

    /// The layer's entries: every file and directory under `root` except module.json, sorted.
    /// Symlinks and special files are refused; modes keep only the executable bit.
    static func layerEntries(root: URL) throws(ModuleError) -> [Tar.Entry] {
        let fm = FileManager.default
        var entries: [Tar.Entry] = []
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
                let attributes: [FileAttributeKey: Any]
                do { attributes = try fm.attributesOfItem(atPath: full) } catch {
                    throw ModuleError(.io, "cannot read '\(full)'", field: path, underlying: "\(error)")
                }
                let type = attributes[.type] as? FileAttributeType
                let permissions = (attributes[.posixPermissions] as? NSNumber)?.uint32Value ?? 0o644
                let mode: UInt32 = permissions & 0o111 != 0 ? 0o755 : 0o644
                switch type {
                case .typeDirectory?:
                    entries.append(Tar.Entry(path: path, isDirectory: true, mode: 0o755, data: Data()))
                    try walk(path)
                case .typeRegular?:
                    guard let data = fm.contents(atPath: full) else {
                        throw ModuleError(.io, "cannot read '\(full)'", field: path)
                    }
                    entries.append(Tar.Entry(path: path, isDirectory: false, mode: mode, data: data))
                default:
                    throw ModuleError(.invalidModuleDirectory, "'\(path)' in the module directory is a \(type?.rawValue ?? "special file"); only regular files and directories can be packed (replace symlinks with copies)", field: path)
                }
            }
        }
        try walk("")
        return entries
    }
}
