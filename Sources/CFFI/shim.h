/*
 * The system libffi (apt: libffi-dev), for ModuleFFI's typed command calls.
 *
 * libffi's type descriptors (ffi_type_sint32, ...) are mutable C globals, which Swift 6's strict
 * concurrency checking refuses to touch; these accessors hand out their addresses instead.
 * ciot_ffi_prep_cif and ciot_ffi_call keep FFI_DEFAULT_ABI and the object-to-function pointer
 * cast on the C side.
 */
#ifndef CIOT_FFI_SHIM_H
#define CIOT_FFI_SHIM_H

#include <ffi.h>
#include <stdbool.h>

/* A command's `bool` is C's `bool`, passed and returned as ffi_type_uint8. */
_Static_assert(sizeof(bool) == 1, "C bool must be one byte: commands pass it as ffi_type_uint8");

static inline ffi_type *ciot_ffi_type_uint8(void) { return &ffi_type_uint8; }
static inline ffi_type *ciot_ffi_type_sint32(void) { return &ffi_type_sint32; }
static inline ffi_type *ciot_ffi_type_sint64(void) { return &ffi_type_sint64; }
static inline ffi_type *ciot_ffi_type_uint32(void) { return &ffi_type_uint32; }
static inline ffi_type *ciot_ffi_type_uint64(void) { return &ffi_type_uint64; }
static inline ffi_type *ciot_ffi_type_double(void) { return &ffi_type_double; }
static inline ffi_type *ciot_ffi_type_pointer(void) { return &ffi_type_pointer; }

/* ffi_prep_cif with FFI_DEFAULT_ABI; returns FFI_OK (0) or another ffi_status. */
static inline int ciot_ffi_prep_cif(ffi_cif *cif, unsigned int count, ffi_type *result, ffi_type **arguments) {
    return (int)ffi_prep_cif(cif, FFI_DEFAULT_ABI, count, result, arguments);
}

/* ffi_call on a function found with dlsym. `result` must hold at least sizeof(ffi_arg) and 8 bytes. */
static inline void ciot_ffi_call(ffi_cif *cif, const void *function, void *result, void **arguments) {
    ffi_call(cif, FFI_FN(function), result, arguments);
}

#endif /* CIOT_FFI_SHIM_H */
