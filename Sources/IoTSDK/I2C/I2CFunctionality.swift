import CIoTLinux

/// What an adapter can do, as the kernel's I2C_FUNCS reports it.
public struct I2CFunctionality: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt

    public init(rawValue: UInt) { self.rawValue = rawValue }

    /// Plain I2C transfers (I2C_RDWR): any length, repeated start between messages.
    public static let i2c = I2CFunctionality(rawValue: CIOT_I2C_FUNC_I2C)
    public static let tenBitAddresses = I2CFunctionality(rawValue: CIOT_I2C_FUNC_10BIT_ADDR)
    public static let protocolMangling = I2CFunctionality(rawValue: CIOT_I2C_FUNC_PROTOCOL_MANGLING)
    public static let smbusPEC = I2CFunctionality(rawValue: CIOT_I2C_FUNC_SMBUS_PEC)
    public static let noStart = I2CFunctionality(rawValue: CIOT_I2C_FUNC_NOSTART)
    public static let smbusQuick = I2CFunctionality(rawValue: CIOT_I2C_FUNC_SMBUS_QUICK)
    public static let smbusReadByte = I2CFunctionality(rawValue: CIOT_I2C_FUNC_SMBUS_READ_BYTE)
    public static let smbusWriteByte = I2CFunctionality(rawValue: CIOT_I2C_FUNC_SMBUS_WRITE_BYTE)
    public static let smbusReadByteData = I2CFunctionality(rawValue: CIOT_I2C_FUNC_SMBUS_READ_BYTE_DATA)
    public static let smbusWriteByteData = I2CFunctionality(rawValue: CIOT_I2C_FUNC_SMBUS_WRITE_BYTE_DATA)
    public static let smbusReadWordData = I2CFunctionality(rawValue: CIOT_I2C_FUNC_SMBUS_READ_WORD_DATA)
    public static let smbusWriteWordData = I2CFunctionality(rawValue: CIOT_I2C_FUNC_SMBUS_WRITE_WORD_DATA)
    public static let smbusReadBlockData = I2CFunctionality(rawValue: CIOT_I2C_FUNC_SMBUS_READ_BLOCK_DATA)
    public static let smbusWriteBlockData = I2CFunctionality(rawValue: CIOT_I2C_FUNC_SMBUS_WRITE_BLOCK_DATA)
    public static let smbusReadI2CBlock = I2CFunctionality(rawValue: CIOT_I2C_FUNC_SMBUS_READ_I2C_BLOCK)
    public static let smbusWriteI2CBlock = I2CFunctionality(rawValue: CIOT_I2C_FUNC_SMBUS_WRITE_I2C_BLOCK)

    /// Everything an adapter with a real I2C controller offers (SMBus emulated over I2C).
    public static let fullI2C: I2CFunctionality = [
        .i2c, .smbusQuick, .smbusReadByte, .smbusWriteByte, .smbusReadByteData, .smbusWriteByteData,
        .smbusReadWordData, .smbusWriteWordData, .smbusReadI2CBlock, .smbusWriteI2CBlock,
    ]
    /// An SMBus-only controller (no I2C_RDWR), like i2c-stub or many PC SMBus hosts.
    public static let smbusOnly: I2CFunctionality = [
        .smbusQuick, .smbusReadByte, .smbusWriteByte, .smbusReadByteData, .smbusWriteByteData,
        .smbusReadWordData, .smbusWriteWordData, .smbusReadI2CBlock, .smbusWriteI2CBlock,
    ]

    public var description: String {
        let names: [(I2CFunctionality, String)] = [
            (.i2c, "I2C"), (.tenBitAddresses, "10-bit"), (.smbusQuick, "quick"), (.smbusReadByte, "read-byte"),
            (.smbusWriteByte, "write-byte"), (.smbusReadByteData, "read-byte-data"), (.smbusWriteByteData, "write-byte-data"),
            (.smbusReadWordData, "read-word"), (.smbusWriteWordData, "write-word"), (.smbusReadBlockData, "read-block"),
            (.smbusWriteBlockData, "write-block"), (.smbusReadI2CBlock, "read-i2c-block"), (.smbusWriteI2CBlock, "write-i2c-block"),
        ]
        return names.filter { contains($0.0) }.map(\.1).joined(separator: ",")
    }
}
