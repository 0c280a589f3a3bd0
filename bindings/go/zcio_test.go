// The Go binding moves the right bytes between real descriptors (files,
// pipes, a socketpair and loopback TCP) and reports errors with the count.
package zcio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

var data = bytes.Repeat([]byte("zero-copy from Go, "), 4096)

func tempFile(t *testing.T, content []byte) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "zcio")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(content); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	return f
}

func socketpair(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestVersion(t *testing.T) {
	if v := Version(); v>>16 != 0 {
		t.Fatalf("version %#x: expected major 0", v)
	}
}

func TestSendfileToSocketpair(t *testing.T) {
	in := tempFile(t, data)
	a, b := socketpair(t)
	got := make(chan []byte)
	go func() {
		buf, _ := io.ReadAll(b)
		got <- buf
	}()

	n, err := Sendfile(int(a.Fd()), int(in.Fd()), nil, ToEOF)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("Sendfile = %d, %v", n, err)
	}
	syscall.Shutdown(int(a.Fd()), syscall.SHUT_WR)
	if buf := <-got; !bytes.Equal(buf, data) {
		t.Fatalf("received %d bytes, not the file", len(buf))
	}
}

func TestSendfileOffsetToPipe(t *testing.T) {
	in := tempFile(t, data)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()

	offset := int64(7)
	n, err := Sendfile(int(w.Fd()), int(in.Fd()), &offset, 1000)
	if err != nil || n != 1000 || offset != 1007 {
		t.Fatalf("Sendfile = %d, %v, offset %d", n, err, offset)
	}
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(r, buf); err != nil ||
		!bytes.Equal(buf, data[7:1007]) {
		t.Fatalf("pipe holds other bytes (%v)", err)
	}
}

func TestSendfileShortKeepsCount(t *testing.T) {
	in := tempFile(t, data[:100])
	out := tempFile(t, nil)
	n, err := Sendfile(int(out.Fd()), int(in.Fd()), nil, 200)
	if !errors.Is(err, ErrShort) || n != 100 {
		t.Fatalf("Sendfile = %d, %v; want 100, ErrShort", n, err)
	}
}

func TestSendfileBrokenPipe(t *testing.T) {
	in := tempFile(t, data)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	defer w.Close()
	n, err := Sendfile(int(w.Fd()), int(in.Fd()), nil, ToEOF)
	if !errors.Is(err, syscall.EPIPE) || n != 0 {
		t.Fatalf("Sendfile = %d, %v; want 0, EPIPE", n, err)
	}
	var zerr *Error
	if !errors.As(err, &zerr) || zerr.Name() != "ZCIO_EPIPE" {
		t.Fatalf("error %#v is not ZCIO_EPIPE", err)
	}
}

func TestCopyOverLoopbackTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback TCP: %v", err)
	}
	defer ln.Close()
	got := make(chan []byte)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		buf, _ := io.ReadAll(c)
		got <- buf
	}()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	f, err := conn.(*net.TCPConn).File() // a blocking duplicate
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	in := tempFile(t, data)

	res, err := Copy(int(f.Fd()), int(in.Fd()), ToEOF)
	f.Close()
	if err != nil || res.Moved != int64(len(data)) ||
		res.Mechanism != MechSendfile {
		t.Fatalf("Copy = %+v, %v", res, err)
	}
	if buf := <-got; !bytes.Equal(buf, data) {
		t.Fatalf("received %d bytes, not the file", len(buf))
	}
}

func TestCopyFileToFileAt(t *testing.T) {
	in := tempFile(t, data)
	out := tempFile(t, nil)
	inOff, outOff := int64(100), int64(0)
	res, err := CopyAt(int(out.Fd()), int(in.Fd()), &inOff, &outOff, 5000)
	if err != nil || res.Moved != 5000 || inOff != 5100 || outOff != 5000 {
		t.Fatalf("CopyAt = %+v, %v, offsets %d %d", res, err, inOff, outOff)
	}
	buf := make([]byte, 5000)
	if _, err := out.ReadAt(buf, 0); err != nil ||
		!bytes.Equal(buf, data[100:5100]) {
		t.Fatalf("output holds other bytes (%v)", err)
	}
}

func TestCopyBadDescriptor(t *testing.T) {
	in := tempFile(t, data)
	res, err := Copy(1<<20, int(in.Fd()), ToEOF)
	if !errors.Is(err, syscall.EBADF) || res.Moved != 0 {
		t.Fatalf("Copy = %+v, %v; want EBADF", res, err)
	}
}

func TestSpliceAndCopyFileRange(t *testing.T) {
	in := tempFile(t, data)
	out := tempFile(t, nil)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()

	off := int64(0)
	if n, err := Splice(int(in.Fd()), &off, int(w.Fd()), nil, 4096, 0); err != nil || n != 4096 {
		t.Fatalf("Splice in = %d, %v", n, err)
	}
	if n, err := Splice(int(r.Fd()), nil, int(out.Fd()), nil, 4096, 0); err != nil || n != 4096 {
		t.Fatalf("Splice out = %d, %v", n, err)
	}
	n, err := CopyFileRange(int(in.Fd()), &off, int(out.Fd()), nil, ToEOF)
	if err != nil || n != int64(len(data)-4096) {
		t.Fatalf("CopyFileRange = %d, %v", n, err)
	}
	got, err := os.ReadFile(out.Name())
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("output holds other bytes (%v)", err)
	}
}
