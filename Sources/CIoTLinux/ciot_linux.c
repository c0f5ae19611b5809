// The shim is header-only (static inline wrappers); this file gives SwiftPM a compilation unit.
#include "ciot_linux.h"
