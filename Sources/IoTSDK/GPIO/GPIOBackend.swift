/// Which implementation carries out GPIO calls.
public enum GPIOBackendKind: String, Sendable, Hashable {
    /// The GPIO character device, uAPI v2 (`/dev/gpiochipN`).
    case characterDevice = "chardev"
    /// The legacy sysfs interface (`/sys/class/gpio`).
    case sysfs
    /// The built-in simulated board.
    case simulated
    /// Through the plugin host, which checks each request against the module's manifest.
    case mediated
}

/// What a GPIO backend provides. `GPIO` is the API app authors use; a backend implements it for
/// one kernel interface (or for the simulator, or the plugin host's broker).
public protocol GPIOBackend: Sendable {
    var kind: GPIOBackendKind { get }

    /// Every chip, each once, in the kernel's order.
    func chips() throws(HardwareError) -> [GPIOChipInfo]

    /// What the kernel reports about one line.
    func lineInfo(chip: GPIOChipInfo, offset: UInt32) throws(HardwareError) -> GPIOLineInfo

    /// What the kernel reports about every line of a chip (one open of the chip where it can).
    func lines(of chip: GPIOChipInfo) throws(HardwareError) -> [GPIOLineInfo]

    /// Requests `lines` of `chip` with their settings under the `consumer` label. The offsets are
    /// valid and distinct and the settings validated when this is called.
    func requestLines(
        chip: GPIOChipInfo, offsets: [UInt32], settings: [LineSettings], consumer: String
    ) throws(HardwareError) -> any GPIOLineHandle
}

extension GPIOBackend {
    public func lines(of chip: GPIOChipInfo) throws(HardwareError) -> [GPIOLineInfo] {
        var lines: [GPIOLineInfo] = []
        for offset in 0..<UInt32(chip.lineCount) {
            lines.append(try lineInfo(chip: chip, offset: offset))
        }
        return lines
    }
}

/// The backend's side of one line request. Bit `i` of a mask or value word is the request's
/// line `i`, in the order the lines were requested.
public protocol GPIOLineHandle: AnyObject, Sendable {
    func getValues(mask: UInt64) throws(HardwareError) -> UInt64
    func setValues(_ bits: UInt64, mask: UInt64) throws(HardwareError)
    /// Applies new settings to every line of the request (same order, same count).
    func reconfigure(_ settings: [LineSettings]) throws(HardwareError)
    /// The stream of edge events of the request's lines. A new stream ends the previous one.
    func makeEventStream(bufferSize: Int) throws(HardwareError) -> AsyncThrowingStream<GPIOEdgeEvent, any Error>
    /// Gives the lines back to the kernel; ends the event stream. Idempotent.
    func release()
}
