#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSupport
import PluginHostImages
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

    public init(stateDirectory: String) {
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
}
