import ArgumentParser
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
import PluginHostImages

struct Pack: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build and sign a module image from a module directory.",
        discussion: """
        <module-dir> holds module.json (the module manifest) and the files of the module (the shared \
        library named by library.path and anything it needs); they become the image's one layer. \
        The output is an OCI image layout directory, or a tar archive of one if <image> ends in .tar. \
        The layer is a plain tar unless --compress gzip or zstd compresses it (zstd: smaller, and \
        faster to unpack on a device). Prints the image manifest digest and the tag.
        """
    )

    @Argument(help: "Directory with module.json and the module's files.")
    var moduleDir: String

    @Option(help: "Private key file made by `plugin-host keygen`.")
    var key: String

    @Option(name: .shortAndLong, help: "Image to write: a new directory, or a file ending in .tar.")
    var output: String

    @Option(help: ArgumentHelp("The platform the module's library is built for, recorded for `plugin-host index` (e.g. linux/arm64, linux/arm/v7, linux/amd64).", valueName: "os/arch[/variant]"))
    var platform: String?

    @Option(help: ArgumentHelp("Compress the layer: none (a plain tar), gzip (any OCI tool reads it) or zstd (smaller, faster to unpack; plugin-host and recent OCI tools read it).", valueName: "none|gzip|zstd"))
    var compress: LayerCompression = .none

    func validate() throws {
        if let platform, OCI.PlatformField(platform) == nil {
            throw ValidationError("--platform takes os/arch[/variant] in lowercase, e.g. linux/arm64 or linux/arm/v7; got '\(platform)'")
        }
    }

    func run() throws {
        let layout = try CLI.run { () throws(ModuleError) -> ImagePacker.Layout in
            guard let keyData = FileManager.default.contents(atPath: key) else {
                throw ModuleError(.invalidKey, "cannot read private key '\(key)': make one with `plugin-host keygen --output \(key)`", field: key)
            }
            let signingKey = try ModuleSigningKey(fileContent: String(decoding: keyData, as: UTF8.self))
            let layout = try ImagePacker(signingKey: signingKey).pack(moduleDirectory: moduleDir, platform: platform.flatMap(OCI.PlatformField.init), compression: compress)
            try ImagePacker.write(layout, to: output)
            return layout
        }
        print("packed \(layout.manifest.id) \(layout.manifest.version) -> \(output)")
        print("manifest \(layout.imageManifestDigest)")
        print("tag \(layout.tag)")
    }
}

struct Index: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Assemble images of one module version, packed for different platforms, into one multi-platform image.",
        discussion: """
        Each <image> is the output of `plugin-host pack --platform` for the same module and \
        version; each keeps its own signature. The output is an OCI image layout (a directory, or \
        a .tar) whose tag names an image index; push all of it with \
        `skopeo copy --all oci-archive:OUT.tar docker://REGISTRY/REPOSITORY:TAG`, and each device \
        pulls the image for its platform. Exit codes: 0 written; 10 an image is damaged; 12 the \
        images are of different modules or versions, or one has no platform; 14 cannot write.
        """
    )

    @Argument(help: "Images made by `plugin-host pack --platform`, one per platform.")
    var images: [String]

    @Option(name: .shortAndLong, help: "Image to write: a new directory, or a file ending in .tar.")
    var output: String

    @Option(help: "The tag of the index (default: the module's version).")
    var tag: String?

    func run() throws {
        let layout = try CLI.run { () throws(ModuleError) -> ImagePacker.Layout in
            let layout = try ImagePacker.index(images.map { (path: String) throws(ModuleError) -> ImageSource in try ImageSource.open(path) }, tag: tag)
            try ImagePacker.write(layout, to: output)
            return layout
        }
        print("indexed \(layout.manifest.id) \(layout.manifest.version) for \(images.count) platform(s) -> \(output)")
        print("index \(layout.imageManifestDigest)")
        print("tag \(layout.tag)")
    }
}

// `--compress none|gzip|zstd`: the case names are the values.
extension LayerCompression: ExpressibleByArgument {}
