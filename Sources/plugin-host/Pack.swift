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
        Prints the image manifest digest and the tag.
        """
    )

    @Argument(help: "Directory with module.json and the module's files.")
    var moduleDir: String

    @Option(help: "Private key file made by `plugin-host keygen`.")
    var key: String

    @Option(name: .shortAndLong, help: "Image to write: a new directory, or a file ending in .tar.")
    var output: String

    func run() throws {
        let layout = try CLI.run { () throws(ModuleError) -> ImagePacker.Layout in
            guard let keyData = FileManager.default.contents(atPath: key) else {
                throw ModuleError(.invalidKey, "cannot read private key '\(key)': make one with `plugin-host keygen --output \(key)`", field: key)
            }
            let signingKey = try ModuleSigningKey(fileContent: String(decoding: keyData, as: UTF8.self))
            let layout = try ImagePacker(signingKey: signingKey).pack(moduleDirectory: moduleDir)
            try ImagePacker.write(layout, to: output)
            return layout
        }
        print("packed \(layout.manifest.id) \(layout.manifest.version) -> \(output)")
        print("manifest \(layout.imageManifestDigest)")
        print("tag \(layout.tag)")
    }
}
