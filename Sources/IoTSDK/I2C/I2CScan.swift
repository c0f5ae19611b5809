/// What a bus scan found at one address.
public struct I2CScanResult: Sendable, Hashable, CustomStringConvertible {
    public enum Status: Sendable, Hashable {
        /// A device acknowledged the probe.
        case present
        /// A kernel driver has claimed the address (i2cdetect shows "UU"); it was not probed.
        case claimed
    }

    public var address: I2CAddress
    public var status: Status

    public init(address: I2CAddress, status: Status) {
        self.address = address
        self.status = status
    }

    public var description: String { "\(address) \(status == .claimed ? "claimed by a driver" : "present")" }
}

extension I2CBus {
    /// Probes every address in `range` the way i2cdetect does by default: SMBus receive byte for
    /// 0x30-0x37 and 0x50-0x5F (EEPROMs and write-protect ranges a quick write could disturb),
    /// quick write elsewhere; receive byte where the adapter has no quick command. Addresses
    /// claimed by a kernel driver are reported, not probed.
    ///
    /// - Throws: `.unsupported` when the adapter can do neither probe.
    public func scan(_ range: ClosedRange<UInt16> = I2CAddress.validRange) throws(HardwareError) -> [I2CScanResult] {
        guard functionality.contains(.smbusQuick) || functionality.contains(.smbusReadByte) else {
            throw HardwareError(.unsupported, "\(name) can neither send a quick command nor read a byte, so it cannot be scanned", location: name)
        }
        var found: [I2CScanResult] = []
        for raw in range.clamped(to: I2CAddress.validRange) {
            guard let address = I2CAddress(rawValue: raw) else { continue }
            do {
                if try probe(address, using: I2CProbe.default(for: raw, functionality: functionality)) {
                    found.append(I2CScanResult(address: address, status: .present))
                }
            } catch let error where error.code == .busy {
                found.append(I2CScanResult(address: address, status: .claimed))
            }
        }
        return found
    }

}

extension I2CProbe {
    /// i2cdetect's choice of probe for an address.
    public static func `default`(for address: UInt16, functionality: I2CFunctionality) -> I2CProbe {
        let readRanges = (0x30...0x37).contains(address) || (0x50...0x5F).contains(address)
        if readRanges && functionality.contains(.smbusReadByte) { return .readByte }
        return functionality.contains(.smbusQuick) ? .quickWrite : .readByte
    }
}
