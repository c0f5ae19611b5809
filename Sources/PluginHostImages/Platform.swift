#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The platform an image is for, and which of an image index's manifests a device runs, by
/// containerd's rules: the same OS and architecture; for ARM, the device's variant or an older one
/// (an ARMv7 device runs v7, then v6, then v5 images); `arm64` with or without the variant `v8`;
/// `amd64` with or without `v1`.
public typealias Platform = OCI.PlatformField

extension OCI.PlatformField {
    /// The platform this process runs on, from uname(2)'s machine (as Go's runtime names it).
    public static var current: Platform {
        var names = utsname()
        uname(&names)
        let machine = withUnsafeBytes(of: names.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return fromMachine(machine)
    }

    static func fromMachine(_ machine: String) -> Platform {
        switch machine {
        case "x86_64": Platform(architecture: "amd64")
        case "aarch64", "arm64": Platform(architecture: "arm64", variant: "v8")
        case "armv8l", "armv7l", "armv7": Platform(architecture: "arm", variant: "v7")
        case "armv6l": Platform(architecture: "arm", variant: "v6")
        case "armv5tel", "armv5tejl": Platform(architecture: "arm", variant: "v5")
        case "i386", "i486", "i586", "i686": Platform(architecture: "386")
        case "riscv64": Platform(architecture: "riscv64")
        default: Platform(architecture: machine)
        }
    }

    /// How well an image built for `image` suits this device: nil if it cannot run here, else
    /// lower is better (the device's own variant 0, each older ARM variant one more).
    public func rank(of image: Platform) -> Int? {
        guard image.os == os, image.architecture == architecture else { return nil }
        switch architecture {
        case "arm":
            let mine = Self.armLevel(variant) ?? 7
            guard let theirs = Self.armLevel(image.variant) ?? (image.variant == nil ? mine : nil), theirs <= mine else { return nil }
            return mine - theirs
        case "arm64":
            return image.variant == nil || image.variant == "v8" ? 0 : (image.variant == variant ? 0 : nil)
        case "amd64":
            return image.variant == nil || image.variant == "v1" || image.variant == variant ? 0 : nil
        default:
            return image.variant == nil || image.variant == variant ? 0 : nil
        }
    }

    private static func armLevel(_ variant: String?) -> Int? {
        guard let variant, variant.hasPrefix("v"), let level = Int(variant.dropFirst()) else { return nil }
        return level
    }
}
