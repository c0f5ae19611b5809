/* What the Swift example needs of wasi-libc, which Embedded Swift does not import itself. */
#include <stdint.h>

/* Sleeps `seconds` (WASI poll_oneoff: the runner calls the module's commands meanwhile, and ends
 * the sleep when the host asks the module to stop). Defined in shim.c. */
void example_sleep_seconds(uint32_t seconds);
