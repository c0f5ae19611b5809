#if canImport(Glibc)
import Glibc
#endif
import Crypto
import LinuxSupport
import PluginHostImages
import PluginHostStore
import SystemPackage

extension PluginHostImages.Digest {
    /// The sha256 digest of `bytes`.
    static func sha256(of bytes: [UInt8]) -> PluginHostImages.Digest {
        fromHash(SHA256.hash(data: bytes))
    }

    static func fromHash(_ hash: SHA256.Digest) -> PluginHostImages.Digest {
        var text = "sha256:"
        for byte in hash {
            text += String(byte >> 4, radix: 16) + String(byte & 0xF, radix: 16)
        }
        return PluginHostImages.Digest(text)!
    }
}

/// A blob's download into its partial file in the content store, its digest computed on the way.
///
/// The partial file is locked (flock) while this object lives, so two pulls never write one blob
/// at once. Its bytes from an earlier, cut download are hashed first and the request asks only
/// for the rest (`Range`); a registry that answers the whole blob (200) instead starts it over.
/// More bytes than the descriptor's size, or bytes that do not hash to its digest, are never
/// stored as the blob.
final class BlobDownload: HTTPSink {
    let descriptor: OCI.Descriptor
    private let store: ContentStore
    private let progress: (PullEvent) -> Void
    private let path: String
    private var fd: Int32
    private var hasher = SHA256()
    /// Bytes in the partial file, all hashed.
    private(set) var written: UInt64 = 0
    /// Whether the current response's body is the blob (not an error document).
    private var keeping = true
    private var reported: UInt64 = 0

    init(store: ContentStore, descriptor: OCI.Descriptor, progress: @escaping (PullEvent) -> Void) throws(ModuleError) {
        self.store = store
        self.descriptor = descriptor
        self.progress = progress
        path = store.partialPath(of: descriptor.digest)
        fd = Syscall.open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw StateFiles.ioError("opening the partial download", path) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            Glibc.close(fd)
            if code == EWOULDBLOCK {
                throw ModuleError(.busy, "another plugin-host process is downloading blob \(descriptor.digest): wait for it to finish and try again", field: path)
            }
            throw StateFiles.ioError("locking the partial download", path, code)
        }
        var status = stat()
        fstat(fd, &status)
        if UInt64(status.st_size) > UInt64(descriptor.size) {
            try reset()
        } else {
            try hashExisting(UInt64(status.st_size))
        }
    }

    /// Hashes the `count` bytes an earlier download left in the partial file.
    private func hashExisting(_ count: UInt64) throws(ModuleError) {
        try withUnsafeTemporaryAllocation(byteCount: 1 << 16, alignment: 16) { (buffer) throws(ModuleError) in
            var offset: UInt64 = 0
            while offset < count {
                let got = Syscall.pread(fd, UnsafeMutableRawBufferPointer(rebasing: buffer[..<Int(min(UInt64(buffer.count), count - offset))]), offset: Int(offset))
                guard got > 0 else { throw StateFiles.ioError("reading the partial download", path) }
                hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[..<got]))
                offset += UInt64(got)
            }
        }
        written = count
        guard lseek(fd, off_t(count), SEEK_SET) >= 0 else { throw StateFiles.ioError("seeking in the partial download", path) }
    }

    /// Empties the partial file: the next request fetches the blob from its first byte.
    func reset() throws(ModuleError) {
        guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else { throw StateFiles.ioError("emptying the partial download", path) }
        hasher = SHA256()
        written = 0
        reported = 0
    }

    func begin(status: Int, headers: [String: String]) throws(ModuleError) {
        switch status {
        case 206:
            // "bytes START-END/TOTAL": it must continue where the partial file ends.
            let range = headers["content-range"] ?? ""
            let start = range.split(separator: " ").dropFirst().first?.split(separator: "-").first.flatMap { UInt64($0) }
            if start != written {
                guard start == 0 else {
                    throw ModuleError(.registry, "the registry answered bytes '\(range)' of blob \(descriptor.digest) when asked for bytes \(written)- ", field: descriptor.digest.blobPath)
                }
                try reset()
            }
            keeping = true
        case 200..<300:
            // The whole blob (a registry or cache that ignores Range): from the start.
            if written > 0 { try reset() }
            keeping = true
        default:
            keeping = false
        }
    }

    func write(_ chunk: UnsafeRawBufferPointer) throws(ModuleError) {
        guard keeping else { return }
        guard written + UInt64(chunk.count) <= UInt64(descriptor.size) else {
            throw ModuleError(.sizeMismatch, "blob \(descriptor.digest) is larger than the \(descriptor.size) bytes its descriptor gives: the registry sent something else; nothing was installed", field: descriptor.digest.blobPath)
        }
        if let code = writeAll(fd, chunk) {
            let hint = code == ENOSPC ? ": the disk is full; free space (or remove old versions) and pull again, the download resumes" : ""
            throw ModuleError(.io, "cannot write the download of blob \(descriptor.digest) to '\(path)'\(hint)", field: path, underlying: Errno(rawValue: code).text)
        }
        hasher.update(bufferPointer: chunk)
        written += UInt64(chunk.count)
        if written - reported >= 1 << 20 || written == UInt64(descriptor.size) {
            reported = written
            progress(.blobProgress(descriptor, bytes: written))
        }
    }

    /// Once the body is in: true and the blob stored if its size and digest match; false (the
    /// partial file kept for `reset`) if the digest does not.
    func finish() throws(ModuleError) -> Bool {
        guard written == UInt64(descriptor.size) else {
            throw ModuleError(.sizeMismatch, "blob \(descriptor.digest) ended after \(written) of its \(descriptor.size) bytes: the registry sent less than the manifest says", field: descriptor.digest.blobPath)
        }
        guard PluginHostImages.Digest.fromHash(hasher.finalize()) == descriptor.digest else { return false }
        guard fsync(fd) == 0 else { throw StateFiles.ioError("fsync of the download", path) }
        try store.commitPartial(descriptor.digest)
        return true
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    deinit { close() }
}
