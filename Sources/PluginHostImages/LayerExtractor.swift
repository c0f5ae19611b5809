import SystemPackage
import LinuxSupport
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

/// The limits the layer extractor enforces on a module's files. A layer that exceeds one is
/// refused with `ModuleError.Code.tooLarge` or `.decompressionBomb`.
public struct ExtractionLimits: Sendable, Equatable {
    /// The sum of all regular-file sizes (after decompression), over all layers.
    public var maxTotalBytes: UInt64
    /// The size of one regular file.
    public var maxFileBytes: UInt64
    /// Files, directories (including parents the archive does not list) and links, over all layers.
    public var maxEntries: Int
    /// Decompressed bytes / compressed bytes of a gzip or zstd layer, checked once more than
    /// 1 MiB has been decompressed.
    public var maxCompressionRatio: UInt64
    /// The length of an entry's path (and of a link's target) in bytes.
    public var maxPathBytes: Int
    /// The largest zstd window, as a power of two: a frame that asks for more is refused
    /// (`ZSTD_d_windowLogMax`) before the decoder allocates it. 23 (8 MiB) admits every level
    /// 1–19 of zstd and what `pack --compress zstd` writes (4 MiB), and refuses `--long` and
    /// `--ultra` frames (up to 128 MiB and more).
    public var maxZstdWindowLog: Int

    public init(maxTotalBytes: UInt64 = 512 << 20, maxFileBytes: UInt64 = 256 << 20, maxEntries: Int = 20_000,
                maxCompressionRatio: UInt64 = 200, maxPathBytes: Int = 1024, maxZstdWindowLog: Int = 23) {
        self.maxTotalBytes = maxTotalBytes
        self.maxFileBytes = maxFileBytes
        self.maxEntries = maxEntries
        self.maxCompressionRatio = maxCompressionRatio
        self.maxPathBytes = maxPathBytes
        self.maxZstdWindowLog = maxZstdWindowLog
    }

    public static let `default` = ExtractionLimits()
}

/// Unpacks a module image's layers into a new directory, streaming each through the shared tar
/// reader (`TarReader`: ustar, pax 'x'/'g', GNU 'L'/'K', v7) and the system zlib or libzstd for
/// gzip or zstd layers (`DecompressingLayerSource`), with bounded buffers whatever the layer's size.
///
/// Every entry is checked before anything is written for it: paths stay inside the module root
/// (no absolute paths, no `..`, nothing through a symlink), symlink targets resolve inside it,
/// hard links point at regular files this extraction wrote, no device nodes or FIFOs, no
/// setuid/setgid bits, and sizes, entry counts and compression ratios stay within
/// `ExtractionLimits`. Files are created relative to directory descriptors with `O_NOFOLLOW`, so
/// the extractor itself never follows a symlink. On any error the destination is removed.
public enum LayerExtractor {
    /// Extracts the verified image's layers, in order, into `destination`, which must not exist yet
    /// (its parent must). On any error the destination is removed entirely: nothing is left behind.
    /// - Throws: `ModuleError`: the extractor's codes (exit code 15), `.io` for the file system,
    ///   `.unsupportedMediaType`, and `layerStream(_:)`'s integrity errors.
    public static func extract(_ image: VerifiedImage, into destination: String, limits: ExtractionLimits = .default) throws(ModuleError) {
        let layers = image.layers
        let labels = layers.enumerated().map { "layer \($0.offset + 1) (\($0.element.digest))" }
        try checkMediaTypes(layers.map(\.mediaType), labels: labels)
        try run(into: destination, limits: limits, count: layers.count) { (index: Int) throws(ModuleError) -> LayerInput in
            LayerInput(mediaType: layers[index].mediaType, source: try image.layerStream(layers[index]), label: labels[index])
        }
    }

    /// The same for raw layer blobs (media type `OCI.layerTar`, `OCI.layerTarGzip` or `OCI.layerTarZstd`).
    public static func extract(layers: [(mediaType: String, data: Data)], into destination: String, limits: ExtractionLimits = .default) throws(ModuleError) {
        let labels = layers.indices.map { "layer \($0 + 1)" }
        try checkMediaTypes(layers.map(\.mediaType), labels: labels)
        try run(into: destination, limits: limits, count: layers.count) { (index: Int) throws(ModuleError) -> LayerInput in
            LayerInput(mediaType: layers[index].mediaType, source: DataByteSource(layers[index].data), label: labels[index])
        }
    }

    /// One layer to extract. An image's layer comes as `VerifiedImage.layerStream(_:)`, which
    /// checks the digest at the stream's end: the reader reads every layer to its end (gzip and
    /// zstd to the end of their input, plain tar past the end-of-archive marker), so a layer that changed
    /// since verification fails the extraction, and the extraction removes what it wrote.
    struct LayerInput {
        var mediaType: String
        var source: any ByteSource
        var label: String
    }

    /// How the shared `TarReader` names a layer's refusals; it reads past the end-of-archive
    /// marker so that a gzip or zstd stream's checksum and the layer's digest are checked too.
    static func tarContext(_ label: String, limits: ExtractionLimits) -> TarReader.Context {
        TarReader.Context(label: label, code: .malformedLayer, kind: "tar archive",
                          advice: "the layer is damaged or was not built by a tar tool: rebuild it",
                          maxPathBytes: limits.maxPathBytes, drainsAfterEnd: true)
    }

    static func checkMediaTypes(_ mediaTypes: [String], labels: [String]) throws(ModuleError) {
        for (mediaType, label) in zip(mediaTypes, labels) where LayerCompression(mediaType: mediaType) == nil {
            throw ModuleError(.unsupportedMediaType, "\(label) has media type '\(mediaType)'; the extractor accepts \(LayerCompression.allCases.map(\.mediaType).joined(separator: ", ")): rebuild the image with `plugin-host pack`", field: label)
        }
    }

    /// Creates the destination, extracts each layer (opened one at a time and read a chunk at a
    /// time: no layer is ever held in memory), checks symlink chains, syncs, and removes
    /// everything on error.
    static func run(into destination: String, limits: ExtractionLimits, count: Int,
                    layer: (Int) throws(ModuleError) -> LayerInput) throws(ModuleError) {
        let extraction = try LayerExtraction(destination: destination, limits: limits)
        do throws(ModuleError) {
            for index in 0..<count {
                try extraction.extractLayer(try layer(index))
            }
            try extraction.checkSymlinkChains()
            try extraction.syncDirectories()
            extraction.closeDescriptors()
        } catch {
            extraction.closeDescriptors()
            var error = error
            do throws(FileFailure) {
                try DurableFiles.removeTree(destination)
            } catch let failure {
                error.message += " (and the partly extracted '\(destination)' could not be removed: \(failure); remove it by hand)"
            }
            throw error
        }
    }
}

// MARK: - One extraction

/// The state of one extraction: the root directory descriptor and what has been created, by
/// path. That table is the truth the checks use: the directory is new and only this extraction
/// writes to it.
final class LayerExtraction {
    enum Kind: Equatable {
        case file
        case directory
        case symlink(target: [UInt8])
    }

    let destination: String
    let limits: ExtractionLimits
    private(set) var rootFD: Int32
    /// Created objects by path (components joined with "/", as bytes: no Unicode folding).
    private var kinds: [[UInt8]: Kind] = [:]
    private var directories: [[[UInt8]]] = []
    private var objectCount = 0
    private var totalBytes: UInt64 = 0
    /// The most recently used parent directory, kept open (archives are usually sorted).
    private var cachedParent: (components: [[UInt8]], fd: Int32)?

    /// Makes `destination` (mode 0755) and opens it. Nothing is removed on failure here: if the
    /// path already exists it is not ours.
    init(destination: String, limits: ExtractionLimits) throws(ModuleError) {
        self.destination = destination
        self.limits = limits
        guard !destination.isEmpty else {
            throw ModuleError(.io, "the extraction destination is an empty path: give a directory path that does not exist yet", field: destination)
        }
        if mkdir(destination, 0o755) != 0 {
            let code = errno
            let hint = code == EEXIST ? "it already exists: remove it or choose a new path"
                : code == ENOENT ? "its parent directory does not exist: create it first" : "check the path and permissions"
            throw ModuleError(.io, "cannot create the extraction directory '\(destination)': \(hint)", field: destination, underlying: Errno(rawValue: code).text)
        }
        let fd = open(destination, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            try? DurableFiles.removeTree(destination)
            throw ModuleError(.io, "cannot open the new extraction directory '\(destination)'", field: destination, underlying: Errno(rawValue: code).text)
        }
        rootFD = fd
        if fchmod(fd, 0o755) != 0 {
            let code = errno
            closeDescriptors()
            try? DurableFiles.removeTree(destination)
            throw ModuleError(.io, "cannot set the mode of '\(destination)'", field: destination, underlying: Errno(rawValue: code).text)
        }
    }

    func closeDescriptors() {
        if let cached = cachedParent { close(cached.fd) }
        cachedParent = nil
        if rootFD >= 0 { close(rootFD) }
        rootFD = -1
    }

    // MARK: Layers

    func extractLayer(_ input: LayerExtractor.LayerInput) throws(ModuleError) {
        let compression = LayerCompression(mediaType: input.mediaType) ?? .none
        let source: any ByteSource = compression == .none
            ? input.source
            : try DecompressingLayerSource(compression, input.source, limits: limits, label: input.label)
        let parser = TarReader(reader: ByteStreamReader(source), context: LayerExtractor.tarContext(input.label, limits: limits))
        do throws(ModuleError) {
            while let entry = try parser.next() {
                try apply(entry, parser: parser)
            }
        } catch {
            // Stream-level errors (gzip, zstd) know no entry: name the one being read, or the layer.
            var error = error
            if error.field == nil {
                if let current = parser.currentPath {
                    error.message += " (while reading entry '\(current)')"
                    error.field = current
                } else {
                    error.field = input.label
                }
            }
            throw error
        }
    }

    // MARK: Entries

    private func refusal(_ code: ModuleError.Code, _ entry: TarEntry, _ text: String) -> ModuleError {
        ModuleError(code, "\(entry.label): entry '\(entry.displayPath)' \(text)", field: entry.displayPath)
    }

    /// Checks one entry completely, then creates it.
    private func apply(_ entry: TarEntry, parser: TarReader) throws(ModuleError) {
        // Type.
        switch entry.type {
        case .characterDevice, .blockDevice, .fifo:
            throw refusal(.specialFile, entry, "is a \(entry.type.name); device nodes and FIFOs are not allowed in module images (a module gets devices through its capabilities): rebuild the module without it")
        case let .unknown(flag):
            throw refusal(.malformedLayer, entry, "has tar entry type \(TarReader.describeTypeFlag(flag)), which module images may not use (allowed: regular files, directories, symlinks, hard links): rebuild the module without it")
        case .regular, .directory, .symlink, .hardlink:
            break
        }

        // Path.
        guard let components = try checkedPath(entry.rawPath, entry: entry, role: "its path") else {
            // The root of the archive ("." or "./"): nothing to create.
            guard entry.type == .directory else {
                throw refusal(.malformedLayer, entry, "names the module root itself but is a \(entry.type.name), not a directory: rebuild the layer")
            }
            return
        }
        if entry.type != .directory, entry.rawPath.last == UInt8(ascii: "/") {
            throw refusal(.malformedLayer, entry, "ends in '/' but is a \(entry.type.name): the layer is malformed; rebuild it")
        }

        // Mode.
        if entry.mode & 0o6000 != 0 {
            let which = entry.mode & 0o4000 != 0 ? "setuid" : "setgid"
            throw refusal(.setuidBit, entry, "has the \(which) bit (mode \(String(entry.mode & 0o7777, radix: 8))); set-user-ID and set-group-ID entries are not allowed in module images: clear the bit (chmod u-s,g-s) and rebuild the module")
        }

        // Sizes.
        if entry.type != .regular, entry.size != 0 {
            throw refusal(.malformedLayer, entry, "is a \(entry.type.name) with a data size of \(entry.size) bytes (it must be 0): the layer is malformed; rebuild it")
        }
        if entry.type == .regular {
            if entry.size > limits.maxFileBytes {
                throw refusal(.tooLarge, entry, "is \(SizeText.of(entry.size)), over the limit for one file of \(SizeText.limit(limits.maxFileBytes, "maxFileBytes")): rebuild the module with smaller files, or raise the limit")
            }
            let (total, overflow) = totalBytes.addingReportingOverflow(entry.size)
            if overflow || total > limits.maxTotalBytes {
                throw refusal(.tooLarge, entry, "would bring the module's files to \(overflow ? "more than \(UInt64.max) bytes" : SizeText.of(total)), over the limit for all files together of \(SizeText.limit(limits.maxTotalBytes, "maxTotalBytes")): make the module smaller, or raise the limit")
            }
        }

        // Parents: none may be a symlink or a file; count the ones to create.
        var missingParents = 0
        for depth in 1..<components.count {
            let prefix = Array(components[..<depth])
            switch kinds[Self.key(prefix)] {
            case .symlink?:
                throw refusal(.symlinkEscape, entry, "lies under '\(Self.display(prefix))', which is a symlink; entries may not be placed through a symlink (it could lead outside the module): rebuild the module with the entry at its real path")
            case .file?:
                throw refusal(.malformedLayer, entry, "lies under '\(Self.display(prefix))', which is a regular file: the layer is malformed; rebuild it")
            case .directory?:
                break
            case nil:
                missingParents += 1
            }
        }

        // What is already at the path: only file over file and directory over directory.
        let key = Self.key(components)
        let existing = kinds[key]
        switch (existing, entry.type) {
        case (nil, _), (.file?, .regular), (.directory?, .directory):
            break
        case let (existing?, type):
            throw refusal(.malformedLayer, entry, "is a \(type.name), but an earlier entry already made that path a \(Self.name(of: existing)); only a file may replace a file: rebuild the module without the conflict")
        }

        // Entry count.
        let newObjects = missingParents + (existing == nil ? 1 : 0)
        if objectCount + newObjects > limits.maxEntries {
            throw refusal(.tooLarge, entry, "would bring the module to more than \(limits.maxEntries) files, directories and links (maxEntries): make the module smaller, or raise the limit")
        }

        // Links.
        var linkTarget: [UInt8] = []
        var hardlinkTarget: [[UInt8]] = []
        switch entry.type {
        case .symlink:
            linkTarget = try checkedSymlinkTarget(entry, components: components)
        case .hardlink:
            hardlinkTarget = try checkedHardlinkTarget(entry)
        default:
            break
        }

        // Create.
        objectCount += newObjects
        let parentFD = try parentDirectory(of: components, entry: entry)
        let name = components[components.count - 1]
        switch entry.type {
        case .regular:
            totalBytes += entry.size
            if existing == .file {
                try ExtractionIO.check(withCPath(name) { unlinkat(parentFD, $0, 0) }, "cannot replace", entry)
            }
            let fd = withCPath(name) { openat(parentFD, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
            try ExtractionIO.check(fd, "cannot create", entry)
            kinds[key] = .file
            do throws(ModuleError) {
                try parser.readData(of: entry) { (chunk: UnsafeRawBufferPointer) throws(ModuleError) in
                    try ExtractionIO.writeAll(fd, chunk, entry)
                }
                try ExtractionIO.check(fchmod(fd, entry.mode & 0o111 != 0 ? 0o755 : 0o644), "cannot set the mode of", entry)
                try ExtractionIO.check(fsync(fd), "cannot sync", entry)
            } catch {
                close(fd)
                throw error
            }
            try ExtractionIO.check(close(fd), "cannot close", entry)
        case .directory:
            if existing == nil {
                try ExtractionIO.check(withCPath(name) { mkdirat(parentFD, $0, 0o755) }, "cannot create directory", entry)
                kinds[key] = .directory
                directories.append(components)
                let fd = withCPath(name) { openat(parentFD, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
                try ExtractionIO.check(fd, "cannot open directory", entry)
                let status = fchmod(fd, 0o755)
                close(fd)
                try ExtractionIO.check(status, "cannot set the mode of", entry)
            }
        case .symlink:
            let status = withCPath(linkTarget) { target in withCPath(name) { symlinkat(target, parentFD, $0) } }
            try ExtractionIO.check(status, "cannot create symlink", entry)
            kinds[key] = .symlink(target: linkTarget)
        case .hardlink:
            let targetParent = try openDirectory(Array(hardlinkTarget.dropLast()), entry: entry)
            let status = withCPath(hardlinkTarget[hardlinkTarget.count - 1]) { old in
                withCPath(name) { linkat(targetParent, old, parentFD, $0, 0) }
            }
            close(targetParent)
            try ExtractionIO.check(status, "cannot create hard link", entry)
            kinds[key] = .file
        default:
            break
        }
    }

    /// The normalised components of an entry path, or nil for the root ("", ".", "./").
    private func checkedPath(_ raw: [UInt8], entry: TarEntry, role: String) throws(ModuleError) -> [[UInt8]]? {
        if raw.contains(0) {
            throw refusal(.malformedLayer, entry, "has a NUL byte in \(role): the layer is malformed; rebuild it")
        }
        if raw.first == UInt8(ascii: "/") {
            throw refusal(.absolutePath, entry, "has an absolute path; a module layer may only hold paths relative to the module root: rebuild the module without it")
        }
        let components = Self.components(raw)
        if components.contains(where: { $0 == Self.dotDot }) {
            throw refusal(.pathTraversal, entry, "has a '..' component, which could place it outside the module directory: rebuild the module without it")
        }
        let length = components.reduce(max(0, components.count - 1)) { $0 + $1.count }
        if length > limits.maxPathBytes {
            throw refusal(.malformedLayer, entry, "has a path of \(length) bytes, over the limit of \(limits.maxPathBytes) (maxPathBytes): shorten it and rebuild the module")
        }
        if let long = components.first(where: { $0.count > 255 }) {
            throw refusal(.malformedLayer, entry, "has a path component of \(long.count) bytes; file names are limited to 255: shorten it and rebuild the module")
        }
        if components.contains(where: { $0.starts(with: Self.whiteoutPrefix) }) {
            throw refusal(.malformedLayer, entry, "is an OCI whiteout ('.wh.' name prefix); whiteouts (deleting files of a lower layer) are not supported in module images: rebuild the image with complete layers and without '.wh.' names")
        }
        return components.isEmpty ? nil : components
    }

    /// A symlink's target must resolve, relative to the link's directory, inside the root.
    private func checkedSymlinkTarget(_ entry: TarEntry, components: [[UInt8]]) throws(ModuleError) -> [UInt8] {
        let target = entry.rawLinkTarget
        let shown = Self.display(target)
        if target.isEmpty {
            throw refusal(.malformedLayer, entry, "is a symlink with an empty target: the layer is malformed; rebuild it")
        }
        if target.contains(0) {
            throw refusal(.malformedLayer, entry, "is a symlink whose target has a NUL byte: the layer is malformed; rebuild it")
        }
        if target.count > limits.maxPathBytes {
            throw refusal(.malformedLayer, entry, "is a symlink whose target is \(target.count) bytes, over the limit of \(limits.maxPathBytes) (maxPathBytes): shorten it and rebuild the module")
        }
        if target.first == UInt8(ascii: "/") {
            throw refusal(.symlinkEscape, entry, "is a symlink to the absolute path '\(shown)', which points outside the module directory: make the link relative and inside the module, or replace it with a copy of what it points to")
        }
        var stack = Array(components.dropLast())
        for component in Self.components(target) {
            if component == Self.dotDot {
                guard !stack.isEmpty else {
                    throw refusal(.symlinkEscape, entry, "is a symlink to '\(shown)', which climbs out of the module directory: make the link point inside the module, or replace it with a copy")
                }
                stack.removeLast()
            } else {
                stack.append(component)
            }
        }
        return target
    }

    /// A hard link's target must be a regular file this extraction already wrote, not reached
    /// through a symlink.
    private func checkedHardlinkTarget(_ entry: TarEntry) throws(ModuleError) -> [[UInt8]] {
        let target = entry.rawLinkTarget
        let shown = Self.display(target)
        func escape(_ why: String) -> ModuleError {
            refusal(.hardlinkEscape, entry, "is a hard link to '\(shown)', \(why); a hard link may only point at a regular file extracted earlier from this image: rebuild the module with a copy of the file instead")
        }
        if target.isEmpty || target.contains(0) {
            throw refusal(.malformedLayer, entry, "is a hard link with an empty or NUL-containing target: the layer is malformed; rebuild it")
        }
        if target.count > limits.maxPathBytes {
            throw refusal(.malformedLayer, entry, "is a hard link whose target is \(target.count) bytes, over the limit of \(limits.maxPathBytes) (maxPathBytes): rebuild the module")
        }
        if target.first == UInt8(ascii: "/") { throw escape("an absolute path") }
        let components = Self.components(target)
        if components.contains(where: { $0 == Self.dotDot }) { throw escape("which has a '..' component") }
        if components.isEmpty { throw escape("which is the module root") }
        for depth in 1..<components.count where kinds[Self.key(Array(components[..<depth]))] != .directory {
            throw escape("which is not inside a directory extracted earlier (its path goes through a symlink, a file or a missing directory)")
        }
        switch kinds[Self.key(components)] {
        case .file?: return components
        case nil: throw escape("which does not exist (no earlier entry created it)")
        case .directory?: throw escape("which is a directory")
        case .symlink?: throw escape("which is a symlink")
        }
    }

    // MARK: Directories

    /// The open directory holding `components`' last element, creating missing parents (0755).
    /// The descriptor belongs to the cache: do not close it.
    private func parentDirectory(of components: [[UInt8]], entry: TarEntry) throws(ModuleError) -> Int32 {
        let parent = Array(components.dropLast())
        if let cached = cachedParent, cached.components == parent { return cached.fd }
        if let cached = cachedParent { close(cached.fd) }
        cachedParent = nil
        var fd = fcntl(rootFD, F_DUPFD_CLOEXEC, 0)
        try ExtractionIO.check(fd, "cannot open the module root for", entry)
        for (index, name) in parent.enumerated() {
            let prefix = Array(parent[...index])
            let created = kinds[Self.key(prefix)] == nil
            if created {
                let status = withCPath(name) { mkdirat(fd, $0, 0o755) }
                if status != 0 { close(fd) }
                try ExtractionIO.check(status, "cannot create parent directory '\(Self.display(prefix))' of", entry)
                kinds[Self.key(prefix)] = .directory
                directories.append(prefix)
            }
            let next = withCPath(name) { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            close(fd)
            try ExtractionIO.check(next, "cannot open parent directory '\(Self.display(prefix))' of", entry)
            fd = next
            if created {
                let status = fchmod(fd, 0o755)
                if status != 0 { close(fd) }
                try ExtractionIO.check(status, "cannot set the mode of '\(Self.display(prefix))' for", entry)
            }
        }
        cachedParent = (parent, fd)
        return fd
    }

    /// Opens an existing directory below the root without following symlinks. The caller closes it.
    private func openDirectory(_ components: [[UInt8]], entry: TarEntry?) throws(ModuleError) -> Int32 {
        var fd = fcntl(rootFD, F_DUPFD_CLOEXEC, 0)
        for name in components {
            guard fd >= 0 else { break }
            let next = withCPath(name) { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            close(fd)
            fd = next
        }
        if fd < 0 {
            let code = errno
            let path = Self.display(components)
            throw ModuleError(.io, "cannot open directory '\(path)' in '\(destination)'\(entry.map { " for entry '\($0.displayPath)'" } ?? "")",
                              field: entry?.displayPath ?? path, underlying: Errno(rawValue: code).text)
        }
        return fd
    }

    /// fsyncs every created directory and the root, so that the tree is durable before the
    /// install step renames it into place.
    func syncDirectories() throws(ModuleError) {
        for components in directories.reversed() {
            let fd = try openDirectory(components, entry: nil)
            let status = fsync(fd)
            let code = errno
            close(fd)
            if status != 0 {
                throw ModuleError(.io, "cannot sync directory '\(Self.display(components))' in '\(destination)'", field: Self.display(components), underlying: Errno(rawValue: code).text)
            }
        }
        if fsync(rootFD) != 0 {
            throw ModuleError(.io, "cannot sync '\(destination)'", field: destination, underlying: Errno(rawValue: errno).text)
        }
    }

    // MARK: Symlink chains

    /// Each symlink's target was checked lexically from the link's own directory. A chain can
    /// still climb out (`d/up -> ..` and `e -> d/up/..` resolve to the root's parent), so once
    /// all layers are in, every symlink whose target has a `..` is resolved through the other
    /// symlinks, as the kernel would, and refused if it leaves the root.
    func checkSymlinkChains() throws(ModuleError) {
        var budget = 1_000_000
        for (path, kind) in kinds {
            guard case let .symlink(target) = kind, Self.components(target).contains(where: { $0 == Self.dotDot }) else { continue }
            let linkComponents = Self.components(path)
            let shownPath = Self.display(path)
            func refuse(_ code: ModuleError.Code, _ why: String) -> ModuleError {
                ModuleError(code, "entry '\(shownPath)' is a symlink to '\(Self.display(target))', which \(why): make the link point inside the module without going through other symlinks, or replace it with a copy", field: shownPath)
            }
            var stack = Array(linkComponents.dropLast())
            var pending = Array(Self.components(target).reversed())
            var hops = 0
            while let component = pending.popLast() {
                budget -= 1
                if budget < 0 { throw refuse(.malformedLayer, "is part of symlink chains too long to check") }
                if component == Self.dotDot {
                    guard !stack.isEmpty else { throw refuse(.symlinkEscape, "climbs out of the module directory when followed through the other symlinks") }
                    stack.removeLast()
                    continue
                }
                stack.append(component)
                if case let .symlink(next)? = kinds[Self.key(stack)] {
                    hops += 1
                    if hops > 40 { throw refuse(.malformedLayer, "is part of a symlink loop or a chain of more than 40 links") }
                    if next.first == UInt8(ascii: "/") { throw refuse(.symlinkEscape, "leads to an absolute symlink") }
                    stack.removeLast()
                    pending.append(contentsOf: Self.components(next).reversed())
                }
            }
        }
    }

    // MARK: Path helpers

    static let dotDot: [UInt8] = [UInt8(ascii: "."), UInt8(ascii: ".")]
    static let whiteoutPrefix: [UInt8] = Array(".wh.".utf8)

    /// Splits on '/', dropping empty and "." components ("./a//b/" → a, b).
    static func components(_ path: [UInt8]) -> [[UInt8]] {
        path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
            .filter { !($0.count == 1 && $0.first == UInt8(ascii: ".")) }
            .map(Array.init)
    }

    static func key(_ components: [[UInt8]]) -> [UInt8] {
        Array(components.joined(separator: [UInt8(ascii: "/")]))
    }

    static func display(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
    static func display(_ components: [[UInt8]]) -> String { display(key(components)) }

    static func name(of kind: Kind) -> String {
        switch kind {
        case .file: "regular file"
        case .directory: "directory"
        case .symlink: "symlink"
        }
    }
}

// MARK: - Entry errors

/// System call failures while writing a layer's entries, as errors that name the entry.
enum ExtractionIO {
    /// Throws `.io` naming the entry when a system call returned a negative value.
    static func check(_ result: Int32, _ action: String, _ entry: TarEntry) throws(ModuleError) {
        guard result < 0 else { return }
        throw ModuleError(.io, "\(entry.label): \(action) entry '\(entry.displayPath)' in the extraction directory", field: entry.displayPath, underlying: Errno.current.text)
    }

    static func writeAll(_ fd: Int32, _ chunk: UnsafeRawBufferPointer, _ entry: TarEntry) throws(ModuleError) {
        guard let code = LinuxSupport.writeAll(fd, chunk) else { return }
        throw ModuleError(.io, "\(entry.label): cannot write entry '\(entry.displayPath)' in the extraction directory", field: entry.displayPath, underlying: Errno(rawValue: code).text)
    }
}

package enum SizeText {
    /// "256 MiB (268435456 bytes, maxFileBytes)".
    static func limit(_ bytes: UInt64, _ name: String) -> String {
        let text = of(bytes)
        return text.hasSuffix(")") ? String(text.dropLast()) + ", \(name))" : text + " (\(name))"
    }

    /// "300 MiB (314572800 bytes)".
    static func of(_ bytes: UInt64) -> String {
        bytes < 1 << 10 ? "\(bytes) bytes" : "\(short(bytes)) (\(bytes) bytes)"
    }

    /// "300 MiB", "1.5 KiB", "12 bytes": for progress lines.
    package static func short(_ bytes: UInt64) -> String {
        let units: [(UInt64, String)] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        for (size, unit) in units where bytes >= size {
            let value = Double(bytes) / Double(size)
            let text = value == value.rounded() ? String(Int(value)) : oneDecimal(value)
            return "\(text) \(unit)"
        }
        return "\(bytes) bytes"
    }
}
