import IoTSDK

extension MPU6050 {
    /// WHO_AM_I answers of clones sold as MPU-6050, which ``IdentityCheck/allowingKnownClones``
    /// accepts, with what they are known as.
    public static let knownCloneWhoAmIs: [UInt8: String] = [
        0x70: "an MPU-6500 or a clone sold as MPU-6050",
        0x72: "a clone sold as MPU-6050",
        0x98: "a clone sold as MPU-6050 (0x98 is also the ICM-20689's value)",
    ]

    /// Other InvenSense parts that answer at 0x68/0x69 but need their own driver.
    static let otherParts: [UInt8: String] = [
        0x71: "an MPU-9250", 0x73: "an MPU-9255", 0x12: "an ICM-20602", 0x47: "an ICM-42688-P",
    ]

    /// Checks a WHO_AM_I value against `check`.
    ///
    /// - Throws: `SensorError(.wrongChip)` naming the value found, 0x68, and the likely cause:
    ///   a clone (with the setting that accepts it), another InvenSense part, or another chip
    ///   at the address.
    public static func identity(whoAmI: UInt8, check: IdentityCheck, chip: String = "MPU-6050") throws(SensorError) -> Identity {
        if whoAmI == expectedWhoAmI { return .mpu6050 }
        let found = "WHO_AM_I (0x75) reads \(hex(whoAmI)), expected \(hex(expectedWhoAmI))"
        if let clone = knownCloneWhoAmIs[whoAmI] {
            if check == .allowingKnownClones { return .clone(whoAmI: whoAmI) }
            throw SensorError(.wrongChip, chip: chip,
                              "\(found): this is \(clone). Its accelerometer and gyroscope registers match the MPU-6050's, "
                              + "its temperature scale may not; to use it anyway set Configuration.identityCheck = .allowingKnownClones")
        }
        if let part = otherParts[whoAmI] {
            throw SensorError(.wrongChip, chip: chip, "\(found): this is \(part), not an MPU-6050; it needs its own driver")
        }
        throw SensorError(.wrongChip, chip: chip,
                          "\(found): another chip answers at this address (a DS1307 or DS3231 real-time clock also uses 0x68), "
                          + "or the address is wrong (AD0 low selects 0x68, high 0x69)")
    }

    /// `0x0A`-style hex for messages.
    static func hex(_ value: UInt8) -> String {
        "0x" + hexDigits(value, width: 2)
    }
}
