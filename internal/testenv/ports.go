package testenv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Ports a test hands to a process it starts (a broker, a Kafka JVM) must
// stay free between the moment they are chosen and the moment that
// process binds them. A port from net.Listen(":0") does not: it comes
// from the kernel's ephemeral range, which every outgoing connection on
// the machine also draws from, and another test process may be given the
// same number a moment later. Ports here come from below the ephemeral
// range (no outgoing connection takes them), and each is reserved for the
// life of the test binary with a lock file, so two test binaries running
// at once (go test ./... runs packages in parallel) never hand out one
// port twice.

var (
	portMu   sync.Mutex
	portHeld = map[int]*os.File{} // port -> its locked file, held until exit
)

// portRange is [lo, hi]: from 10000 to just below the kernel's ephemeral
// range.
func portRange() (int, int) {
	lo, hi := 10000, 32767
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if first, err := strconv.Atoi(f[0]); err == nil && first-1 > lo+1000 {
				hi = first - 1
			}
		}
	}
	return lo, hi
}

// reservePort takes the process-lifetime lock on port's file; false if
// another test binary (or this one) holds it.
func reservePort(dir string, port int) bool {
	if _, ok := portHeld[port]; ok {
		return false
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return false
	}
	portHeld[port] = f
	return true
}

// releasePort gives up a reservation that turned out unusable.
func releasePort(port int) {
	if f, ok := portHeld[port]; ok {
		f.Close() // drops the lock
		delete(portHeld, port)
	}
}

// FreePorts returns k distinct ports, each free on every one of hosts
// (IP addresses; none means 127.0.0.1) when chosen and reserved for this
// test binary from then on (see above).
func FreePorts(k int, hosts ...string) ([]int, error) {
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1"}
	}
	dir := filepath.Join(os.TempDir(), "moldau-test-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("testenv: port lock directory: %w", err)
	}
	_ = os.Chmod(dir, 0o777) // shared by every user's test binaries
	lo, hi := portRange()
	portMu.Lock()
	defer portMu.Unlock()
	var ports []int
	for attempt := 0; len(ports) < k && attempt < 2000; attempt++ {
		port := lo + rand.IntN(hi-lo+1)
		if !reservePort(dir, port) {
			continue
		}
		if !bindable(port, hosts) {
			releasePort(port)
			continue
		}
		ports = append(ports, port)
	}
	if len(ports) < k {
		for _, p := range ports {
			releasePort(p)
		}
		return nil, errors.New("testenv: no free ports below the ephemeral range on " + strings.Join(hosts, ", "))
	}
	return ports, nil
}

// bindable reports whether port can be listened on at every host now.
func bindable(port int, hosts []string) bool {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for _, h := range hosts {
		l, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(port)))
		if err != nil {
			return false
		}
		ls = append(ls, l)
	}
	return true
}

// Ports is FreePorts failing the test on error.
func Ports(t testing.TB, k int, hosts ...string) []int {
	t.Helper()
	ports, err := FreePorts(k, hosts...)
	if err != nil {
		t.Fatal(err)
	}
	return ports
}

// Addr returns host:port for one reserved port on host (127.0.0.1 when
// empty).
func Addr(t testing.TB, host string) string {
	t.Helper()
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(Ports(t, 1, host)[0]))
}
