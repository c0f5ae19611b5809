#if canImport(Glibc)
import Glibc
#endif
import CIoTLinux
import Logging

/// GPIO inside a plugin-host runner: the host checks each request against the module's manifest
/// (`capabilities.gpio`), requests the lines from the kernel with the module's own line config,
/// and hands over the line request's descriptor. From then on the module reads, drives and takes
/// edge events on its lines itself, at native speed, exactly as with `CharacterDeviceGPIO`; the
/// kernel confines the descriptor to those lines. Reconfiguring goes through the host, which keeps
/// each line to its declared direction (the sandbox's syscall filter denies the ioctl).
///
/// What the module sees: the chips it declares lines of (`chips()`), and the lines it declares
/// (`lines(of:)`, `lineInfo`); asking about any other line is refused as not declared.
/// `GPIO.linux()` picks this backend by itself inside a runner (`ModuleHost.current`).
public struct MediatedGPIO: GPIOBackend {
    public let host: ModuleHost
    let logger: Logger

    public init(host: ModuleHost, logger: Logger = Logger(label: "iotsdk.gpio")) {
        self.host = host
        self.logger = logger
    }

    public var kind: GPIOBackendKind { .mediated }

    public func chips() throws(HardwareError) -> [GPIOChipInfo] {
        var result: [GPIOChipInfo] = []
        var index: UInt32 = 0
        while true {
            let info: ciot_gpiochip_info
            do {
                guard let next = try host.gpioChipInfo(index: index) else { break }
                info = next
            } catch {
                // A declared chip that is not there (or not readable) is left out, as an absent
                // chip is by the character-device backend; the reason goes to the log.
                logger.warning("a GPIO chip declared in the manifest is not available: \(error.reason)")
                index += 1
                continue
            }
            result.append(GPIOChipInfo(name: String(fixedCString: info.name), label: String(fixedCString: info.label), lineCount: Int(info.lines)))
            index += 1
        }
        return result
    }

    public func lineInfo(chip: GPIOChipInfo, offset: UInt32) throws(HardwareError) -> GPIOLineInfo {
        do {
            return CharacterDeviceGPIO.decode(try host.gpioLineInfo(chip: chip.name, offset: offset), chip: chip.name)
        } catch {
            throw Self.error(error, "reading line info", chip: chip, offsets: [offset])
        }
    }

    /// The lines of `chip` the manifest declares; the others are not the module's to see.
    public func lines(of chip: GPIOChipInfo) throws(HardwareError) -> [GPIOLineInfo] {
        var lines: [GPIOLineInfo] = []
        for offset in 0..<UInt32(chip.lineCount) {
            do {
                lines.append(CharacterDeviceGPIO.decode(try host.gpioLineInfo(chip: chip.name, offset: offset), chip: chip.name))
            } catch where error.isDenied {
                continue
            } catch {
                throw Self.error(error, "reading line info", chip: chip, offsets: [offset])
            }
        }
        return lines
    }

    public func requestLines(chip: GPIOChipInfo, offsets: [UInt32], settings: [LineSettings], consumer: String) throws(HardwareError) -> any GPIOLineHandle {
        let config = try CharacterDeviceGPIO.makeConfig(settings, chip: chip)
        let fd: Int32
        do {
            fd = try host.requestGPIOLines(chip: chip.name, offsets: offsets, config: config)
        } catch {
            throw Self.error(error, "requesting lines \(offsets)", chip: chip, offsets: offsets)
        }
        logger.debug("lines granted by the plugin host", metadata: ["chip": "\(chip.name)", "offsets": "\(offsets)"])
        var info = stat()
        if fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, offsets.count == 1 {
            // A legacy sysfs chip: the host exported the line, configured it and handed over its
            // `value` file, on which reads, writes and poll(2) for edges work as on any sysfs line.
            // Its settings are the host's to change, so reconfigure() fails (no /sys here).
            let export = SysfsExport(number: Int(offsets[0]), offset: offsets[0],
                                     directory: "line \(offsets[0]) of \(chip.name) (sysfs, granted by the plugin host)",
                                     classDirectory: "", unexportsOnRelease: false)
            let line = SysfsLine(export: export, value: OwnedDescriptor(fd, path: export.directory + "/value"))
            return SysfsLineHandle(lines: [line], chip: chip, settings: settings)
        }
        let host = host
        return CharacterDeviceLineHandle(
            descriptor: OwnedDescriptor(fd, path: "line request \(offsets) on \(chip.name) (granted by the plugin host)"),
            chip: chip, offsets: offsets, settings: settings) { (fd: Int32, config: ciot_gpio_v2_line_config) throws(HardwareError) in
                do throws(ModuleHost.HostRequestError) {
                    try host.reconfigureGPIOLines(fd: fd, config: config)
                } catch {
                    throw Self.error(error, "reconfiguring lines \(offsets)", chip: chip, offsets: offsets)
                }
            }
    }

    /// A refusal or failure of the host as the error the other backends would throw, with the fix.
    static func error(_ error: ModuleHost.HostRequestError, _ what: String, chip: GPIOChipInfo, offsets: [UInt32]) -> HardwareError {
        let location = "\(chip.name):" + offsets.map(String.init).joined(separator: ",")
        if error.isDenied {
            return HardwareError(.permissionDenied, "the plugin host refused \(what) on \(chip.name) [\(chip.label)]: \(error.reason). Declare the line in the module manifest's capabilities.gpio (chip, line, direction), then pack and install the module again", errno: error.code, location: location)
        }
        if error.code == 38 /* ENOSYS */ {
            return HardwareError(.unsupported, "\(what) on \(chip.name): \(error.reason)", errno: error.code, location: location)
        }
        var mapped = HardwareError.fromErrno(error.code, what, path: chip.name)
        if !error.reason.isEmpty { mapped = HardwareError(mapped.code, "\(mapped.message) (the plugin host: \(error.reason))", errno: error.code, location: location) }
        return mapped
    }
}
