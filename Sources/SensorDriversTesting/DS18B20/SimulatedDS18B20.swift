import IoTSDK
import Synchronization

/// A 1-Wire thermometer as the kernel's `w1_therm` driver shows it in sysfs, for tests and the
/// demo: a `<family>-<serial>` directory under `bus/w1/devices` of a ``FakeSysfsTree``, with
/// `w1_slave`, `temperature`, `name`, `ext_power` and (unless it models an old kernel or a
/// DS18S20) `resolution`.
///
/// The scratchpad is built from the datasheets' memory maps (DS18B20: temperature LSB/MSB,
/// TH, TL, configuration 0 R1 R0 11111, reserved FFh, reserved, reserved 10h, CRC; DS18S20:
/// 9-bit temperature, TH, TL, FFh, FFh, COUNT_REMAIN, COUNT_PER_C = 10h, CRC), its CRC with the
/// 1-Wire CRC-8 (x⁸+x⁵+x⁴+1), and `w1_slave` in the kernel's two-line format. Faults reproduce
/// what real buses produce, including the kernel's habit of printing the last *good* scratchpad
/// on the second line after a CRC failure.
///
/// Files are plain: a driver's write (of `resolution`) lands in the file and takes effect when
/// ``applyWrittenSettings()`` is called, as the kernel would apply it at once.
public final class SimulatedDS18B20: Sendable {
    /// A failure to reproduce on the next renderings of `w1_slave`.
    public enum Fault: Sendable, Hashable {
        /// A clean conversion.
        case none
        /// Noise: one bit of byte 0 flipped, so the kernel's CRC check says NO (its second line
        /// keeps the previous good scratchpad).
        case crcError
        /// The conversion did not run: the power-up scratchpad (+85 °C, byte 6 = 0Ch).
        case powerOnReset
        /// A parasite-powered part without enough current: temperature register 07FFh.
        case insufficientPower
        /// DQ shorted to ground: all nine bytes read 00h, which passes the CRC.
        case shortedLine
        /// No device answers: the pull-up makes every bit 1 (all FFh), CRC NO.
        case notResponding
        /// The kernel prints CRC YES but byte 8 does not match (a garbled transfer that the
        /// driver's own CRC check must catch).
        case wrongCRCByte
    }

    struct State {
        var celsius: Double = 21.5
        var resolutionBits = 12
        var highAlarm: UInt8 = 0x4B   // factory default 75 °C
        var lowAlarm: UInt8 = 0x46    // 70 °C
        var fault = Fault.none
        var lastGood: [UInt8]?
        var parasitePower = false
    }

    /// The directory name, e.g. `28-0316a2795dff`.
    public let id: String
    /// The family code (0x28 DS18B20, 0x10 DS18S20, 0x22 DS1822, 0x3B DS1825, 0x42 DS28EA00).
    public let family: UInt8
    /// Whether the `resolution` attribute exists (Linux 5.9+ and not a DS18S20).
    public let hasResolutionAttribute: Bool
    private let tree: FakeSysfsTree
    private let state = Mutex(State())

    /// The slave's directory relative to the tree's root.
    public var relativeDirectory: String { "bus/w1/devices/" + id }

    /// Adds a thermometer to `tree` and writes its files.
    ///
    /// - Parameters:
    ///   - tree: the fake sysfs tree the thermometer appears in.
    ///   - family: the family code.
    ///   - serial: the 48-bit serial number.
    ///   - celsius: the starting temperature.
    ///   - modernKernel: false to leave out `resolution` and `ext_power`, as before Linux 5.9.
    /// - Throws: `HardwareError` when the files cannot be written.
    public init(in tree: FakeSysfsTree, family: UInt8 = 0x28, serial: UInt64 = 0x0316A2795DFF,
                celsius: Double = 21.5, modernKernel: Bool = true) throws(HardwareError) {
        var digits = String(serial & 0xFFFF_FFFF_FFFF, radix: 16)
        while digits.count < 12 { digits = "0" + digits }
        let familyDigits = String(family, radix: 16)
        self.id = (familyDigits.count == 1 ? "0" : "") + familyDigits + "-" + digits
        self.family = family
        self.tree = tree
        self.hasResolutionAttribute = modernKernel && family != 0x10
        state.withLock { $0.celsius = celsius }
        try tree.makeDirectory("bus/w1/devices/w1_bus_master1")
        try tree.write(id + "\n", to: relativeDirectory + "/name")
        if modernKernel {
            try tree.write("1\n", to: relativeDirectory + "/ext_power")
        }
        if hasResolutionAttribute {
            try tree.write("12\n", to: relativeDirectory + "/resolution")
        }
        try render()
    }

    // MARK: - The physical world

    /// Sets the temperature the next conversion measures.
    public func setTemperature(celsius: Double) throws(HardwareError) {
        state.withLock { $0.celsius = celsius }
        try render()
    }

    /// Sets the resolution bits (9…12) in the configuration register, as a Write Scratchpad would.
    public func setResolution(bits: Int) throws(HardwareError) {
        state.withLock { $0.resolutionBits = min(max(bits, 9), 12) }
        if hasResolutionAttribute { try tree.write("\(min(max(bits, 9), 12))\n", to: relativeDirectory + "/resolution") }
        try render()
    }

    /// Makes the part report parasite power (`ext_power` = 0).
    public func setParasitePower(_ parasite: Bool) throws(HardwareError) {
        state.withLock { $0.parasitePower = parasite }
        if tree.exists(relativeDirectory + "/ext_power") {
            try tree.write(parasite ? "0\n" : "1\n", to: relativeDirectory + "/ext_power")
        }
    }

    /// Reproduces `fault` from now on (`.none` to stop).
    public func inject(_ fault: Fault) throws(HardwareError) {
        state.withLock { $0.fault = fault }
        try render()
    }

    /// Takes a resolution that a driver wrote to `resolution` (or, on an old kernel, to
    /// `w1_slave`) into the configuration register, as the kernel does on the write.
    public func applyWrittenSettings() throws(HardwareError) {
        let written = hasResolutionAttribute ? tree.read(relativeDirectory + "/resolution") : tree.read(relativeDirectory + "/w1_slave")
        if let text = written, let bits = Int(text), (9...12).contains(bits) {
            state.withLock { $0.resolutionBits = bits }
        }
        try render()
    }

    /// Unplugs the sensor: its directory goes away, as the w1 master removes a slave that stopped
    /// answering its searches.
    public func unplug() {
        tree.remove(relativeDirectory)
    }

    // MARK: - Scratchpad, from the datasheets

    /// The nine scratchpad bytes of a clean conversion of the current temperature.
    public var scratchpad: [UInt8] {
        state.withLock { Self.scratchpad(for: $0, family: family) }
    }

    static func scratchpad(for s: State, family: UInt8) -> [UInt8] {
        var bytes: [UInt8]
        if family == 0x10 {
            // DS18S20: 0.5 °C per bit; COUNT_REMAIN gives the fraction:
            // T = TEMP_READ − 0.25 + (COUNT_PER_C − COUNT_REMAIN) / COUNT_PER_C.
            let halfDegrees = Int((s.celsius * 2).rounded())
            let whole = Double((halfDegrees >> 1))
            let countRemain = 16 - Int(((s.celsius - whole + 0.25) * 16).rounded())
            let register = UInt16(bitPattern: Int16(clamping: halfDegrees))
            bytes = [UInt8(register & 0xFF), UInt8(register >> 8), s.highAlarm, s.lowAlarm, 0xFF, 0xFF,
                     UInt8(clamping: min(max(countRemain, 0), 16)), 0x10]
        } else {
            // DS18B20 format: sixteenths of a degree, undefined low bits zero below 12 bits.
            let sixteenths = Int((s.celsius * 16).rounded(.down))
            let mask: UInt16 = 0xFFFF << UInt16(12 - s.resolutionBits)
            let register = UInt16(bitPattern: Int16(clamping: sixteenths)) & mask
            let configuration = UInt8(0x1F | (s.resolutionBits - 9) << 5)
            // Byte 6 is "reserved": 0Ch at power-up; genuine parts change it when they convert.
            bytes = [UInt8(register & 0xFF), UInt8(register >> 8), s.highAlarm, s.lowAlarm, configuration, 0xFF,
                     0x10 &- UInt8(register & 0x0F), 0x10]
        }
        bytes.append(crc8(bytes))
        return bytes
    }

    static func powerOnScratchpad(for s: State, family: UInt8) -> [UInt8] {
        var bytes: [UInt8]
        if family == 0x10 {
            bytes = [0xAA, 0x00, s.highAlarm, s.lowAlarm, 0xFF, 0xFF, 0x0C, 0x10]
        } else {
            bytes = [0x50, 0x05, s.highAlarm, s.lowAlarm, UInt8(0x1F | (s.resolutionBits - 9) << 5), 0xFF, 0x0C, 0x10]
        }
        bytes.append(crc8(bytes))
        return bytes
    }

    /// The 1-Wire CRC-8, x⁸ + x⁵ + x⁴ + 1, LSB first, from a table of the 256 remainders.
    static let crcTable: [UInt8] = (0..<256).map { index in
        var remainder = UInt8(index)
        for _ in 0..<8 { remainder = remainder & 1 != 0 ? (remainder >> 1) ^ 0x8C : remainder >> 1 }
        return remainder
    }

    static func crc8(_ bytes: [UInt8]) -> UInt8 {
        bytes.reduce(0) { crcTable[Int($0 ^ $1)] }
    }

    // MARK: - The kernel's files

    /// Rewrites `w1_slave` and `temperature` for the current state and fault.
    func render() throws(HardwareError) {
        let text = state.withLock { s -> String in
            let good = Self.scratchpad(for: s, family: family)
            var fresh = good
            var kernelSaysMatch = true
            switch s.fault {
            case .none: break
            case .crcError: fresh[0] ^= 0x04
            case .powerOnReset: fresh = Self.powerOnScratchpad(for: s, family: family)
            case .insufficientPower:
                fresh = [0xFF, 0x07] + Array(good[2..<8])
                fresh.append(Self.crc8(fresh))
            case .shortedLine: fresh = Array(repeating: 0, count: 9)
            case .notResponding: fresh = Array(repeating: 0xFF, count: 9)
            case .wrongCRCByte: fresh[8] ^= 0x01
            }
            let computed = Self.crc8(Array(fresh.prefix(8)))
            if s.fault != .wrongCRCByte { kernelSaysMatch = computed == fresh[8] }
            // The kernel keeps the last scratchpad whose CRC matched and prints it on line 2.
            if kernelSaysMatch { s.lastGood = fresh }
            let retained = s.lastGood ?? Array(repeating: 0, count: 9)
            let kernelCRC = s.fault == .wrongCRCByte ? fresh[8] ^ 0x01 : computed
            return Self.format(fresh) + " : crc=" + Self.hex(kernelCRC) + (kernelSaysMatch ? " YES" : " NO") + "\n"
                + Self.format(retained) + " t=\(Self.millidegrees(fresh, family: family))\n"
        }
        try tree.write(text, to: relativeDirectory + "/w1_slave")
        try tree.write("\(Self.millidegrees(scratchpad, family: family))\n", to: relativeDirectory + "/temperature")
    }

    /// The kernel's integer conversion for `t=` (m°C, truncated).
    static func millidegrees(_ bytes: [UInt8], family: UInt8) -> Int {
        let register = Int(Int16(bitPattern: UInt16(bytes[1]) << 8 | UInt16(bytes[0])))
        return family == 0x10 ? register * 500 : register * 1000 / 16
    }

    static func format(_ bytes: [UInt8]) -> String {
        bytes.map(hex).joined(separator: " ")
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }
}
