import IoTSDK

// Register addresses and bits of the MPU-6050, from InvenSense's "MPU-6000 and MPU-6050
// Register Map and Descriptions" (RM-MPU-6000A-00, revision 4.2, 08/19/2013): section 3
// "Register Map" and the register descriptions of section 4 cited below.

extension MPU6050 {
    /// Register addresses (RM section 3).
    enum Register {
        /// SMPLRT_DIV (4.2); CONFIG, GYRO_CONFIG and ACCEL_CONFIG follow at 0x1A…0x1C.
        static let sampleRateDivider: UInt8 = 0x19
        /// ACCEL_XOUT_H (4.17): the 14-byte burst 0x3B…0x48 holds accelerometer X, Y, Z,
        /// TEMP_OUT (4.18) and gyroscope X, Y, Z (4.19), each big-endian two's complement.
        static let accelerometerXHigh: UInt8 = 0x3B
        /// PWR_MGMT_1 (4.28): DEVICE_RESET, SLEEP, CYCLE, TEMP_DIS, CLKSEL. Reset value 0x40.
        static let powerManagement1: UInt8 = 0x6B
        /// WHO_AM_I (4.32): 0x68.
        static let whoAmI: UInt8 = 0x75
    }

    /// PWR_MGMT_1 bits (4.28).
    enum PowerManagement1 {
        static let deviceReset: UInt8 = 0x80
        static let sleep: UInt8 = 0x40
    }

    /// Bytes in one burst of measurement registers, 0x3B…0x48.
    static let burstLength = 14

    /// What WHO_AM_I of a genuine MPU-6000/MPU-6050 holds (4.32).
    public static let expectedWhoAmI: UInt8 = 0x68

    /// The wait after DEVICE_RESET before the chip is used (4.28, note: "Wait 100ms").
    static let resetTime: Duration = .milliseconds(100)
    /// How long the driver polls for DEVICE_RESET to clear after ``resetTime``.
    static let resetPollDeadline: Duration = .milliseconds(100)
    static let resetPollInterval: Duration = .milliseconds(10)
    /// Gyroscope start-up time from sleep (Product Specification, Table 6.1: 30 ms, the only
    /// figure given).
    static let startupTime: Duration = .milliseconds(30)
}
