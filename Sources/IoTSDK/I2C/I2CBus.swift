/// One message of a combined I2C transfer.
public enum I2CMessage: Sendable, Hashable {
    case write([UInt8])
    case read(count: Int)
}

/// How to check whether a device answers at an address (i2cdetect's two probes).
public enum I2CProbe: Sendable, Hashable {
    /// SMBus quick write: only the address and the R/W bit. Can confuse some write-only chips.
    case quickWrite
    /// SMBus receive byte: safe for EEPROMs, which a quick write could lock.
    case readByte
}

/// An I2C bus: the primitives every backend implements (Linux `/dev/i2c-N`, simulated, mediated).
/// App code normally uses `I2CDevice`, which picks the right primitive for the adapter.
///
/// Every method is synchronous: a register transaction takes tens to hundreds of microseconds.
/// SMBus words are little-endian on the wire, as the SMBus specification defines them.
public protocol I2CBus: AnyObject, Sendable {
    /// Human name for messages ("i2c-1 [bcm2835 (i2c@7e804000)]").
    var name: String { get }
    var functionality: I2CFunctionality { get }

    /// One combined transfer: the messages in order with a repeated start between them and one
    /// stop at the end. Returns the bytes of each read message, in order.
    /// - Throws: `.unsupported` on SMBus-only adapters; `.noAcknowledge` when nothing answers.
    func transfer(_ address: I2CAddress, _ messages: [I2CMessage]) throws(HardwareError) -> [[UInt8]]

    func smbusQuickWrite(_ address: I2CAddress) throws(HardwareError)
    func smbusReadByte(_ address: I2CAddress) throws(HardwareError) -> UInt8
    func smbusWriteByte(_ address: I2CAddress, _ value: UInt8) throws(HardwareError)
    func smbusReadByteData(_ address: I2CAddress, command: UInt8) throws(HardwareError) -> UInt8
    func smbusWriteByteData(_ address: I2CAddress, command: UInt8, _ value: UInt8) throws(HardwareError)
    func smbusReadWordData(_ address: I2CAddress, command: UInt8) throws(HardwareError) -> UInt16
    func smbusWriteWordData(_ address: I2CAddress, command: UInt8, _ value: UInt16) throws(HardwareError)
    /// SMBus "I2C block" read: up to 32 bytes from `command` on.
    func smbusReadI2CBlockData(_ address: I2CAddress, command: UInt8, count: Int) throws(HardwareError) -> [UInt8]
    /// SMBus "I2C block" write: up to 32 bytes from `command` on.
    func smbusWriteI2CBlockData(_ address: I2CAddress, command: UInt8, _ bytes: [UInt8]) throws(HardwareError)

    /// Whether a device answers at `address`. Throws `.busy` when a kernel driver has claimed
    /// the address (i2cdetect's "UU").
    func probe(_ address: I2CAddress, using probe: I2CProbe) throws(HardwareError) -> Bool
}

extension I2CBus {
    /// An `I2CDevice` at `address` on this bus.
    public func device(_ address: I2CAddress) -> I2CDevice {
        I2CDevice(bus: self, address: address)
    }

    /// The maximum block an SMBus call carries.
    public static var smbusBlockMax: Int { 32 }
}
