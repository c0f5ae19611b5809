#if canImport(Glibc)
import Glibc
#endif

// The IoTSDK tests that need a real kernel. Scripts/lab/run.sh boots the lab VM (gpio-sim,
// i2c-stub, i2c-dev) and runs this binary inside it; each test prints one LAB PASS/FAIL line.
let arguments = CommandLine.arguments.dropFirst()
let filter = arguments.first
let failures = await runLabTests(gpioLabTests + i2cLabTests + driverLabTests + brokerLabTests + runnerLabTests + clockLabTests + doctorLabTests
                                 + storageClockLabTests,  // last: it takes the clock to 1970 and back
                                 filter: filter)
exit(failures == 0 ? 0 : 1)
