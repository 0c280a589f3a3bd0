// gocopy is the Go peer of zcio-bench: it sends one file over loopback TCP
// with io.Copy from an *os.File to a *net.TCPConn (which Go turns into
// sendfile(2)) to a receiver child process that splices the bytes to
// /dev/null, as zcio-bench's discarding receiver does, and prints every
// transfer's wall time, sender CPU, receiver CPU and context switches as
// one JSON object.
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

const pipeSize = 1 << 20

type result struct {
	Program   string    `json:"program"`
	Bytes     int64     `json:"bytes"`
	Rounds    int       `json:"rounds"`
	CC        string    `json:"congestion_control"`
	WallMs    []float64 `json:"wall_ms"`
	CPUMs     []float64 `json:"cpu_ms"`
	RxCPUMs   []float64 `json:"rx_cpu_ms"`
	Nvcsw     []float64 `json:"nvcsw"`
	Nivcsw    []float64 `json:"nivcsw"`
	GoVersion string    `json:"go_version"`
}

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "gocopy: "+format+"\n", a...)
	os.Exit(1)
}

type usage struct{ cpuNs, nvcsw, nivcsw float64 }

func rusage() usage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		die("getrusage: %v", err)
	}
	return usage{
		cpuNs:  float64(ru.Utime.Nano() + ru.Stime.Nano()),
		nvcsw:  float64(ru.Nvcsw),
		nivcsw: float64(ru.Nivcsw),
	}
}

// tune asks for cubic on this socket, as zcio-bench does, since bbr's
// pacing dominates loopback results on small machines. It returns the
// congestion control in force.
func tune(c *net.TCPConn) string {
	raw, err := c.SyscallConn()
	if err != nil {
		die("SyscallConn: %v", err)
	}
	cc := "unknown"
	raw.Control(func(fd uintptr) {
		syscall.SetsockoptString(int(fd), syscall.IPPROTO_TCP,
			syscall.TCP_CONGESTION, "cubic")
		buf := make([]byte, 16)
		n := uint32(len(buf))
		_, _, e := syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd,
			syscall.IPPROTO_TCP, syscall.TCP_CONGESTION,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
		if e == 0 {
			for i, b := range buf[:n] {
				if b == 0 {
					n = uint32(i)
					break
				}
			}
			cc = string(buf[:n])
		}
	})
	c.SetNoDelay(true)
	return cc
}

// spliceAll moves n bytes from the socket to /dev/null through a pipe,
// without copying them into user space, waiting in Go's poller when the
// socket has nothing yet.
func spliceAll(c *net.TCPConn, pw, pr, null int, n int64) int64 {
	raw, _ := c.SyscallConn()
	var got int64
	for got < n {
		want := n - got
		if want > pipeSize {
			want = pipeSize
		}
		var moved int64
		var serr error
		err := raw.Read(func(fd uintptr) bool {
			moved, serr = syscall.Splice(int(fd), nil, pw, nil, int(want),
				1 /* SPLICE_F_MOVE */)
			return serr != syscall.EAGAIN
		})
		if err != nil || serr != nil || moved == 0 {
			return got
		}
		got += moved
		for moved > 0 {
			out, err := syscall.Splice(pr, nil, null, nil, int(moved), 1)
			if err != nil && err != syscall.EINTR {
				die("receiver: splice to /dev/null: %v", err)
			}
			moved -= out
		}
	}
	return got
}

func receiver(port string) {
	conn, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		die("receiver: %v", err)
	}
	c := conn.(*net.TCPConn)
	tune(c)
	null, err := os.OpenFile("/dev/null", os.O_WRONLY, 0)
	if err != nil {
		die("receiver: %v", err)
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		die("receiver: pipe: %v", err)
	}
	syscall.Syscall(syscall.SYS_FCNTL, uintptr(p[1]), 1031, pipeSize)
	hdr := make([]byte, 8)
	ack := make([]byte, 16)
	for {
		if _, err := io.ReadFull(c, hdr); err != nil {
			os.Exit(0)
		}
		before := rusage()
		n := int64(binary.LittleEndian.Uint64(hdr))
		got := spliceAll(c, p[1], p[0], int(null.Fd()), n)
		after := rusage()
		binary.LittleEndian.PutUint64(ack, uint64(got))
		binary.LittleEndian.PutUint64(ack[8:],
			uint64(after.cpuNs-before.cpuNs))
		if _, err := c.Write(ack); err != nil {
			die("receiver: %v", err)
		}
	}
}

// one sends the file once and returns the wall time, sender usage and the
// receiver's CPU time.
func one(c *net.TCPConn, f *os.File, size int64) (float64, usage, float64) {
	hdr := make([]byte, 8)
	ack := make([]byte, 16)
	binary.LittleEndian.PutUint64(hdr, uint64(size))
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		die("seek: %v", err)
	}
	u0 := rusage()
	t0 := time.Now()
	if _, err := c.Write(hdr); err != nil {
		die("header: %v", err)
	}
	n, err := io.Copy(c, f)
	if err != nil || n != size {
		die("io.Copy sent %d of %d bytes: %v", n, size, err)
	}
	if _, err := io.ReadFull(c, ack); err != nil {
		die("ack: %v", err)
	}
	wall := float64(time.Since(t0).Nanoseconds()) / 1e6
	u1 := rusage()
	if got := int64(binary.LittleEndian.Uint64(ack)); got != size {
		die("the receiver got %d of %d bytes", got, size)
	}
	rx := float64(binary.LittleEndian.Uint64(ack[8:])) / 1e6
	return wall, usage{u1.cpuNs - u0.cpuNs, u1.nvcsw - u0.nvcsw,
		u1.nivcsw - u0.nivcsw}, rx
}

func main() {
	file := flag.String("file", "", "the file to send")
	rounds := flag.Int("rounds", 7, "timed transfers after one warm-up")
	recv := flag.String("recv", "", "internal: run as the receiver")
	flag.Parse()
	if *recv != "" {
		receiver(*recv)
		return
	}
	f, err := os.Open(*file)
	if err != nil {
		die("%v", err)
	}
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		die("%s: not a non-empty file", *file)
	}
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		die("listen: %v", err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	child := exec.Command(os.Args[0], "-recv", port)
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		die("starting the receiver: %v", err)
	}
	c, err := ln.AcceptTCP()
	if err != nil {
		die("accept: %v", err)
	}
	res := result{Program: "gocopy", Bytes: st.Size(), Rounds: *rounds,
		CC: tune(c), GoVersion: runtime.Version()}
	one(c, f, st.Size())
	for r := 0; r < *rounds; r++ {
		wall, u, rx := one(c, f, st.Size())
		res.WallMs = append(res.WallMs, wall)
		res.CPUMs = append(res.CPUMs, u.cpuNs/1e6)
		res.RxCPUMs = append(res.RxCPUMs, rx)
		res.Nvcsw = append(res.Nvcsw, u.nvcsw)
		res.Nivcsw = append(res.Nivcsw, u.nivcsw)
	}
	c.Close()
	if err := child.Wait(); err != nil {
		die("receiver: %v", err)
	}
	json.NewEncoder(os.Stdout).Encode(res)
}
