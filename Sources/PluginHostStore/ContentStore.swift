#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSupport
import PluginHostImages
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The blobs pulled from registries, by digest, in the state directory (`<state>/content`): an OCI
/// layout's `blobs/sha256/<hex>`, and `partial/<hex>` for a download that has not finished. A
/// blob is in `blobs/` only once its digest and size were checked, so one that is there is never
/// fetched again, whichever module or version needs it; a partial file is where a cut download
/// resumes, also after the host was killed or the power failed.
public struct ContentStore: Sendable {
    public let root: String
    let stateDirectory: String

    public init(stateDirectory: String) {
        self.stateDirectory = stateDirectory
        root = stateDirectory + "/content"
    }

    var blobsDirectory: String { root + "/blobs/sha256" }
    var partialDirectory: String { root + "/partial" }

    /// Where a verified blob is.
    public func path(of digest: Digest) -> String { blobsDirectory + "/" + digest.hex }

    /// Where a download of `digest` collects its bytes until they are checked.
    public func partialPath(of digest: Digest) -> String { partialDirectory + "/" + digest.hex }

    /// Whether the blob is here (checked when it was stored).
    public func contains(_ digest: Digest) -> Bool {
        Files.exists(path(of: digest), followingLinks: false)
    }

    /// The size of the partial download of `digest` (0 if there is none).
    public func partialSize(of digest: Digest) -> UInt64 {
        Files.status(partialPath(of: digest), followingLinks: false).map { UInt64(max($0.size, 0)) } ?? 0
    }

    /// Creates the directories (and `oci-layout`) if they are missing.
    public func prepare() throws(ModuleError) {
        try StateFiles.makeStateDirectory(stateDirectory)
        try StateFiles.makeDirectory(blobsDirectory)
        try StateFiles.makeDirectory(partialDirectory)
        let layout = root + "/oci-layout"
        if !Files.exists(layout) {
            try StateFiles.writeAtomically(Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8), to: layout)
        }
    }

    /// Moves the finished, checked partial file of `digest` into `blobs/` (fsync'd first; the
    /// directory after), so that a power cut leaves it either partial or whole and stored.
    public func commitPartial(_ digest: Digest) throws(ModuleError) {
        let partial = partialPath(of: digest)
        try StateFiles.io { () throws(FileFailure) in try DurableFiles.sync(partial) }
        try StateFiles.move(partial, to: path(of: digest))
    }

    /// Stores a small document (a manifest, an index) whose digest the caller checked.
    public func store(_ bytes: [UInt8], as digest: Digest) throws(ModuleError) {
        guard !contains(digest) else { return }
        try StateFiles.io { () throws(FileFailure) in try DurableFiles.writeAtomically(bytes, to: path(of: digest)) }
    }

    /// Drops a partial download (its bytes did not match).
    public func discardPartial(_ digest: Digest) {
        unlink(partialPath(of: digest))
    }

    /// The stored blob's bytes, for small documents (manifests, configs).
    public func read(_ digest: Digest) throws(ModuleError) -> [UInt8] {
        try StateFiles.io { () throws(FileFailure) in try Files.readBytes(path(of: digest)) }
    }

    /// The stored image whose manifest is `digest`, as the verifier reads it.
    public func source(manifest digest: Digest) throws(ModuleError) -> ImageSource {
        guard contains(digest) else { throw ModuleError(.missingBlob, "the content store has no manifest \(digest): pull the image again", field: digest.blobPath) }
        let size = Int64(Files.status(path(of: digest))?.size ?? 0)
        return try ImageSource.contentStore(root, manifest: OCI.Descriptor(mediaType: OCI.manifestMediaType, digest: digest, size: size), location: root + "@" + digest.description)
    }

    /// What `collect` removed.
    public struct Collected: Sendable, Equatable {
        public var blobs = 0
        public var partials = 0
        public var bytes: UInt64 = 0

        /// What an install that collected says of it; nil when nothing was removed.
        public var afterInstall: String? {
            guard blobs + partials > 0 else { return nil }
            return "content store: removed \(blobs) unused blob(s) and \(partials) abandoned download(s), \(SizeText.short(bytes))"
        }
    }

    /// Removes the blobs no image in `keeping` needs (its manifest, config and layers), and
    /// partial downloads. Blobs and partial files younger than `grace` stay too, so an image
    /// pulled ahead of its install (`plugin-host pull`) survives until then.
    public func collect(keeping manifests: Set<Digest>, grace: Duration = .seconds(24 * 3600)) throws(ModuleError) -> Collected {
        var needed = manifests
        for digest in manifests where contains(digest) {
            guard let manifest = try? JSONDecoder().decode(OCI.Manifest.self, from: Data(read(digest))) else { continue }
            needed.insert(manifest.config.digest)
            for layer in manifest.layers { needed.insert(layer.digest) }
        }
        let cutoff = Double(time(nil)) - Double(grace.components.seconds)
        var collected = Collected()
        func old(_ status: Stat) -> Bool { grace <= .zero || Double(status.st_mtim.tv_sec) < cutoff }
        for name in Files.list(blobsDirectory) {
            let path = blobsDirectory + "/" + name
            guard let digest = Digest("sha256:" + name) else { continue }
            guard !needed.contains(digest), let status = Files.status(path, followingLinks: false), old(status) else { continue }
            guard unlink(path) == 0 else { throw StateFiles.ioError("removing unused blob", path) }
            collected.blobs += 1
            collected.bytes += UInt64(max(status.size, 0))
        }
        for name in Files.list(partialDirectory) {
            let path = partialDirectory + "/" + name
            guard let status = Files.status(path, followingLinks: false), old(status) else { continue }
            guard unlink(path) == 0 else { throw StateFiles.ioError("removing an abandoned download", path) }
            collected.partials += 1
            collected.bytes += UInt64(max(status.size, 0))
        }
        if collected.blobs + collected.partials > 0 {
            try StateFiles.io { () throws(FileFailure) in try DurableFiles.sync(blobsDirectory) }
        }
        return collected
    }
}
