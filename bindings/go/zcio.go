// Package zcio calls libzcio, zero-copy I/O for Linux, through cgo.
//
// cgo finds the library with pkg-config (`#cgo pkg-config: zcio`), so an
// installed zcio is found as is; for one under another prefix set
// PKG_CONFIG_PATH to its lib/pkgconfig, and let the program find
// libzcio.so.0 at run time (an -rpath in CGO_LDFLAGS, or the loader's path).
//
// Every function takes raw descriptors (from os.File.Fd or syscall) and
// returns the bytes moved together with the error, as io.Copy does: zcio
// writes the count on every return, errors included. An error is an
// *Error; for codes that mirror the OS, errors.Is(err, syscall.EPIPE) and
// the like hold, and for zcio's own codes errors.Is(err, ErrShort) does.
package zcio

/*
#cgo pkg-config: zcio
#include <stdlib.h>
#include <zcio.h>
*/
import "C"

import (
	"syscall"
	"unsafe"
)

// ToEOF as a count means "until the input ends".
const ToEOF = ^uint64(0)

// Mechanisms zcio can use, as reported by Copy.
const (
	MechNone          = C.ZCIO_MECH_NONE
	MechCopyFileRange = C.ZCIO_MECH_COPY_FILE_RANGE
	MechSendfile      = C.ZCIO_MECH_SENDFILE
	MechSplice        = C.ZCIO_MECH_SPLICE
	MechReadWrite     = C.ZCIO_MECH_READ_WRITE
)

// Error is a negative code from libzcio and the call that returned it.
type Error struct {
	Op   string // the C function, such as "zcio_sendfile"
	Code int    // the negative code: -errno, or a ZCIO_E* constant
}

// Codes zcio invents, for errors.Is.
var (
	ErrNull   = &Error{Code: C.ZCIO_ENULL}
	ErrPanic  = &Error{Code: C.ZCIO_EPANIC}
	ErrShort  = &Error{Code: C.ZCIO_ESHORT}
	ErrBounds = &Error{Code: C.ZCIO_EBOUNDS}
	ErrFlags  = &Error{Code: C.ZCIO_EFLAGS}
	ErrNoMech = &Error{Code: C.ZCIO_ENOMECH}
	ErrNoPipe = &Error{Code: C.ZCIO_ENOPIPE}
	ErrStruct = &Error{Code: C.ZCIO_ESTRUCT}
)

func (e *Error) Error() string {
	return e.Op + ": " + Strerror(e.Code)
}

// Name is zcio_err_name of the code, such as "ZCIO_EAGAIN".
func (e *Error) Name() string {
	return C.GoString(C.zcio_err_name(C.int(e.Code)))
}

// Unwrap gives the syscall.Errno of a code that mirrors the OS.
func (e *Error) Unwrap() error {
	if e.Code < 0 && e.Code > -4096 {
		return syscall.Errno(-e.Code)
	}
	return nil
}

// Is matches another *Error with the same code, such as ErrShort.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Strerror is zcio_strerror: the message for any code.
func Strerror(code int) string {
	return C.GoString(C.zcio_strerror(C.int(code)))
}

// Version is zcio_version of the running library: major<<16|minor<<8|patch.
func Version() uint32 {
	return uint32(C.zcio_version())
}

func check(op string, rc C.int) error {
	if rc < 0 {
		return &Error{Op: op, Code: int(rc)}
	}
	return nil
}

// Sendfile sends count bytes (or ToEOF) from the file in to out. A nil
// offset uses and advances in's file position; otherwise reading starts at
// *offset, which advances by the bytes sent.
func Sendfile(out, in int, offset *int64, count uint64) (int64, error) {
	var sent C.uint64_t
	rc := C.zcio_sendfile(C.int(out), C.int(in), (*C.int64_t)(offset),
		C.uint64_t(count), &sent)
	return int64(sent), check("zcio_sendfile", rc)
}

// Splice moves count bytes between two descriptors, one of them a pipe.
// Offsets are as in Sendfile and must be nil for a pipe; flags combine the
// ZCIO_SPLICE_* values.
func Splice(in int, inOffset *int64, out int, outOffset *int64, count uint64,
	flags uint32) (int64, error) {
	var moved C.uint64_t
	rc := C.zcio_splice(C.int(in), (*C.int64_t)(inOffset), C.int(out),
		(*C.int64_t)(outOffset), C.uint64_t(count), C.uint32_t(flags),
		&moved)
	return int64(moved), check("zcio_splice", rc)
}

// CopyResult says what Copy did.
type CopyResult struct {
	Moved        int64 // bytes written to the output
	Read         int64 // bytes read from the input
	Mechanism    int   // the Mech* that moved them
	FallbackFrom int   // the Mech* it fell back from, or MechNone
	FallbackCode int   // why: the code that mechanism gave
}

// Copy copies count bytes (or ToEOF) from in to out with the best
// mechanism for the pair, from and advancing the descriptors' positions.
// The result is filled in on error too.
func Copy(out, in int, count uint64) (CopyResult, error) {
	return CopyAt(out, in, nil, nil, count)
}

// CopyAt is Copy with positional offsets: a non-nil offset is read from
// and advanced by the bytes read (input) or written (output), and that
// descriptor's position is left alone.
func CopyAt(out, in int, inOffset, outOffset *int64,
	count uint64) (CopyResult, error) {
	// zcio_copy_opts holds pointers to the offsets, and cgo forbids passing
	// C a Go pointer to memory that holds Go pointers: the options and the
	// offsets they point to live in C memory for the call.
	mem := C.calloc(1, C.sizeof_zcio_copy_opts+2*C.sizeof_int64_t)
	defer C.free(mem)
	opts := (*C.zcio_copy_opts)(mem)
	offsets := (*[2]C.int64_t)(unsafe.Add(mem, C.sizeof_zcio_copy_opts))
	opts.size = C.sizeof_zcio_copy_opts
	if inOffset != nil {
		offsets[0] = C.int64_t(*inOffset)
		opts.in_offset = &offsets[0]
	}
	if outOffset != nil {
		offsets[1] = C.int64_t(*outOffset)
		opts.out_offset = &offsets[1]
	}

	var res C.zcio_copy_result
	res.size = C.sizeof_zcio_copy_result
	rc := C.zcio_copy(C.int(out), C.int(in), C.uint64_t(count), opts, &res)

	if inOffset != nil {
		*inOffset = int64(offsets[0])
	}
	if outOffset != nil {
		*outOffset = int64(offsets[1])
	}
	return CopyResult{
		Moved:        int64(res.moved),
		Read:         int64(res.read),
		Mechanism:    int(res.mechanism),
		FallbackFrom: int(res.fallback_from),
		FallbackCode: int(res.fallback_code),
	}, check("zcio_copy", rc)
}

// CopyFileRange copies count bytes between two regular files inside the
// kernel; offsets are as in Sendfile.
func CopyFileRange(in int, inOffset *int64, out int, outOffset *int64,
	count uint64) (int64, error) {
	var copied C.uint64_t
	rc := C.zcio_copy_file_range(C.int(in), (*C.int64_t)(inOffset),
		C.int(out), (*C.int64_t)(outOffset), C.uint64_t(count), &copied)
	return int64(copied), check("zcio_copy_file_range", rc)
}
