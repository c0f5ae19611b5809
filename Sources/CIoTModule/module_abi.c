// The module ABI is the header alone; this file exists because a C target needs a source file.
#include "iotsdk_module.h"
