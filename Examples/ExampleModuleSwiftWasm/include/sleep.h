/* What the Swift example needs of wasi-libc, which Embedded Swift does not import itself. */
#include <stdint.h>

/* Sleeps `seconds` (WASI poll_oneoff: the runner calls the module's commands meanwhile, and ends
 * the sleep when the host asks the module to stop). Defined in shim.c. */
void example_sleep_seconds(uint32_t seconds);

/* The setpoint as the JSON text the key-value store keeps ("23.5"), and back: Embedded Swift has
 * no number formatting or parsing of its own. Defined in shim.c. */
void example_format_double(double value, char *text, uint32_t capacity);
double example_parse_double(const char *text);
