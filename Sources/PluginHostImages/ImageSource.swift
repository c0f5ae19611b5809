#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SystemPackage
import LinuxSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where an image layout's files come from: a directory, or the same layout in a tar archive.
/// Reads are by layout-relative path (`index.json`, `blobs/sha256/<hex>`).
///
/// Nothing of an archive is held in memory: `open(_:)` reads its headers once and keeps where each
/// file's bytes lie; a blob is then read from that region of the file as a stream
/// (`stream(_:)`), and only the small JSON documents are read whole (`read(_:)`).
public struct ImageSource: Sendable {
    /// A file's bytes inside the archive file.
    struct Region: Sendable, Equatable {
        var offset: UInt64
        var size: UInt64
    }

    enum Storage: Sendable {
        case directory(String)
        case archive([String: Region])
        /// A content store (an OCI layout's `blobs/`, shared by many images) with the index of
        /// one image held here.
        case store(root: String, index: Data)
    }

    let storage: Storage
    /// The path the image was opened from, for messages.
    public let location: String

    /// The largest layout file read whole: `oci-layout`, `index.json`, manifests and the config
    /// are a few KiB; anything this large is not an image this host made or can use.
    static let maxDocumentBytes: UInt64 = 4 << 20

    /// Opens a layout directory, or a tar archive of one (any regular file is read as tar; its
    /// headers are read once, through a bounded buffer, and its contents are not).
    /// - Throws: `ModuleError` `.io` if the path does not exist or cannot be read,
    ///   `.malformedLayout` for a bad archive.
    public static func open(_ path: String) throws(ModuleError) -> ImageSource {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw ModuleError(.io, "no image at '\(path)': give an OCI layout directory or a .tar of one", field: path)
        }
        if status.st_mode & S_IFMT == S_IFDIR {
            return ImageSource(storage: .directory(path), location: path)
        }
        guard let file = try FileRegionSource.openFile(path, what: "image archive '\(path)'") else {
            throw ModuleError(.io, "no image at '\(path)': give an OCI layout directory or a .tar of one", field: path)
        }
        var files: [String: Region] = [:]
        try Tar.readArchive(file, name: path) { (name: String, entry: TarEntry, _: TarReader) throws(ModuleError) in
            if entry.type == .regular { files[name] = Region(offset: entry.dataOffset, size: entry.size) }
        }
        return ImageSource(storage: .archive(files), location: path)
    }

    /// The image whose manifest is `manifest` in the content store at `root` (an OCI layout
    /// directory that many images share): its `index.json` lists that manifest only.
    public static func contentStore(_ root: String, manifest: OCI.Descriptor, location: String) throws(ModuleError) -> ImageSource {
        let index = OCI.Index(schemaVersion: 2, mediaType: OCI.indexMediaType, manifests: [manifest], annotations: nil)
        return ImageSource(storage: .store(root: root, index: try OCI.encode(index)), location: location)
    }

    /// A layout file's bytes as a stream (its `size` known before reading), or nil if it does
    /// not exist.
    /// - Throws: `ModuleError` `.io` if it exists but cannot be opened.
    func stream(_ relativePath: String) throws(ModuleError) -> FileRegionSource? {
        let what = "'\(relativePath)' in image '\(location)'"
        switch storage {
        case let .archive(files):
            guard let region = files[relativePath] else { return nil }
            guard let file = try FileRegionSource.openFile(location, what: what, region: region) else {
                throw ModuleError(.io, "image archive '\(location)' has gone while it was read", field: location)
            }
            return file
        case let .directory(root):
            return try FileRegionSource.openFile(root + "/" + relativePath, what: what)
        case let .store(root, _):
            return try FileRegionSource.openFile(root + "/" + relativePath, what: what)
        }
    }

    /// The whole content of a small layout file (at most `maxDocumentBytes`), or nil if it does
    /// not exist.
    /// - Throws: `ModuleError` `.io`, `.malformedLayout` if the file is larger than a layout
    ///   document can be.
    func read(_ relativePath: String) throws(ModuleError) -> Data? {
        if case let .store(_, index) = storage, relativePath == "index.json" { return index }
        guard let file = try stream(relativePath) else { return nil }
        guard file.size <= Self.maxDocumentBytes else {
            throw ModuleError(.malformedLayout, "'\(relativePath)' in image '\(location)' is \(SizeText.of(file.size)), more than a layout document can be (\(SizeText.of(Self.maxDocumentBytes))): the image is damaged or is not a module image", field: relativePath)
        }
        return try file.read(upTo: Int(file.size))
    }
}

// MARK: - Byte sources

extension ByteSource {
    /// Up to `count` bytes in one `Data` (for small documents), fewer only if the stream ends.
    func read(upTo count: Int) throws(ModuleError) -> Data {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(0, count), alignment: 16)
        defer { buffer.deallocate() }
        var filled = 0
        while filled < buffer.count {
            let got = try fill(UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if got == 0 { break }
            filled += got
        }
        return Data(UnsafeRawBufferPointer(rebasing: buffer[..<filled]))
    }
}

/// A region of a file, read with pread(2) a buffer at a time; it owns its descriptor and closes
/// it once, when it goes away. If the file is shorter than the region (it shrank), the stream
/// ends early and the reader reports the truncation.
final class FileRegionSource: ByteSource {
    private let fd: Int32
    /// The region's length in bytes.
    let size: UInt64
    private let start: UInt64
    private var offset: UInt64 = 0
    /// What is read, for messages ("'blobs/sha256/…' in image '…'").
    private let what: String

    private init(fd: Int32, start: UInt64, size: UInt64, what: String) {
        self.fd = fd
        self.start = start
        self.size = size
        self.what = what
    }

    deinit { close(fd) }

    /// Opens a regular file (following symlinks, as a layout directory may hold them), or the
    /// `region` of it; nil if the file does not exist.
    /// - Throws: `ModuleError` `.io` if it cannot be opened or is not a regular file.
    static func openFile(_ path: String, what: String, region: ImageSource.Region? = nil) throws(ModuleError) -> FileRegionSource? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            if code == ENOENT { return nil }
            throw ModuleError(.io, "cannot open \(what)", field: path, underlying: Errno(rawValue: code).text)
        }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw ModuleError(.io, "\(what) is not a regular file", field: path)
        }
        let region = region ?? ImageSource.Region(offset: 0, size: UInt64(status.st_size))
        return FileRegionSource(fd: fd, start: region.offset, size: region.size, what: what)
    }

    func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(ModuleError) -> Int {
        let want = Int(min(UInt64(buffer.count), size - offset))
        guard want > 0 else { return 0 }
        while true {
            let count = pread(fd, buffer.baseAddress, want, off_t(start + offset))
            if count >= 0 {
                offset += UInt64(count)
                return count
            }
            guard errno == EINTR else {
                throw ModuleError(.io, "cannot read \(what)", underlying: Errno(rawValue: errno).text)
            }
        }
    }

    func skip(_ count: UInt64) throws(ModuleError) -> UInt64 {
        let skipped = min(count, size - offset)
        offset += skipped
        return skipped
    }

}

/// Bytes already in memory (a layer or archive a caller built itself).
final class DataByteSource: ByteSource {
    private let data: Data
    private var offset = 0

    init(_ data: Data) { self.data = data }

    func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(ModuleError) -> Int {
        let count = min(buffer.count, data.count - offset)
        guard count > 0 else { return 0 }
        data.withUnsafeBytes { raw in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<offset + count]))
        }
        offset += count
        return count
    }

    func skip(_ count: UInt64) throws(ModuleError) -> UInt64 {
        let skipped = Int(min(count, UInt64(data.count - offset)))
        offset += skipped
        return UInt64(skipped)
    }
}
