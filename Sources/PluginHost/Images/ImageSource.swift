import Foundation

/// Where an image layout's files come from: a directory, or the same layout in a tar archive.
/// Reads are by layout-relative path (`index.json`, `blobs/sha256/<hex>`).
public struct ImageSource: Sendable {
    enum Storage: Sendable {
        case directory(URL)
        case archive([String: Data])
    }

    let storage: Storage
    /// The path the image was opened from, for messages.
    public let location: String

    /// Opens a layout directory, or a tar archive of one (any regular file is read as tar).
    /// - Throws: `ModuleError` `.io` if the path does not exist, `.malformedLayout` for a bad archive.
    public static func open(_ path: String) throws(ModuleError) -> ImageSource {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModuleError(.io, "no image at '\(path)': give an OCI layout directory or a .tar of one", field: path)
        }
        if isDirectory.boolValue {
            return ImageSource(storage: .directory(URL(fileURLWithPath: path)), location: path)
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ModuleError(.io, "cannot read image archive '\(path)'", field: path, underlying: "\(error)")
        }
        var files: [String: Data] = [:]
        for entry in try Tar.read(data, source: path) where !entry.isDirectory {
            files[entry.path] = entry.data
        }
        return ImageSource(storage: .archive(files), location: path)
    }

    /// The content of a layout file, or nil if it does not exist.
    func read(_ relativePath: String) throws(ModuleError) -> Data? {
        switch storage {
        case let .archive(files):
            return files[relativePath]
        case let .directory(root):
            let url = root.appendingPathComponent(relativePath)
            guard FileManager.default.fileExists(atPath: url.path) else { return nil }
            do { return try Data(contentsOf: url) } catch {
                throw ModuleError(.io, "cannot read '\(relativePath)' in image '\(location)'", field: relativePath, underlying: "\(error)")
            }
        }
    }
}
