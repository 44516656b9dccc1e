// Command moldau runs a Moldau broker: a Kafka-protocol-compatible broker in
// one static binary. With no arguments it serves 127.0.0.1:9092 with data
// under ./moldau-data. The first line on stdout is "listening on HOST:PORT".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/moldau/moldau/broker"
	"github.com/moldau/moldau/broker/config"
)

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// runMain dispatches on the first argument: a command of the table in
// help.go runs the admin CLI; --version is `moldau version`; anything else
// is the broker's flags (-h/--help among them prints `moldau --help`).
func runMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		first := args[0]
		switch first {
		case "-version", "--version":
			return runCLI("version", args[1:], stdin, stdout, stderr)
		}
		if lookupCommand(first) != nil {
			return runCLI(first, args[1:], stdin, stdout, stderr)
		}
		if !strings.HasPrefix(first, "-") {
			fmt.Fprintf(stderr, "moldau: unknown command %q (the broker takes only flags)\nRun 'moldau --help' for the flags and commands.\n", first)
			return 2
		}
	}
	return run(args, stdout, stderr)
}

// newLogger returns a logger writing to w at level, and the level variable
// its handler reads: the broker changes it at run time (IncrementalAlterConfigs
// on the BROKER_LOGGER resource).
func newLogger(w io.Writer, level, format string) (*slog.Logger, *slog.LevelVar) {
	lv := new(slog.LevelVar)
	switch strings.ToLower(level) {
	case "debug":
		lv.Set(slog.LevelDebug)
	case "warn", "warning":
		lv.Set(slog.LevelWarn)
	case "error":
		lv.Set(slog.LevelError)
	default:
		lv.Set(slog.LevelInfo)
	}
	opts := &slog.HandlerOptions{Level: lv}
	if strings.EqualFold(format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts)), lv
	}
	return slog.New(slog.NewTextHandler(w, opts)), lv
}

func run(args []string, stdout, stderr io.Writer) int {
	started := time.Now()
	boot, _ := newLogger(stderr, "info", "text")
	cfg, err := config.Load(args, os.Getenv, boot)
	if errors.Is(err, flag.ErrHelp) {
		writeServerHelp(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "moldau:", err)
		fmt.Fprintln(stderr, "Run 'moldau --help' for the flags and commands.")
		return 2
	}
	logger, level := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	cfg.LogLevelVar = level
	slog.SetDefault(logger)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	b, err := broker.New(cfg, broker.WithLogger(logger), broker.WithRegisterer(reg), broker.WithVersion(version))
	if err != nil {
		logger.Error("start-up failed", "err", err)
		return 1
	}
	if err := b.Start(); err != nil {
		logger.Error("start-up failed", "err", err)
		_ = b.Close(context.Background())
		return 1
	}
	fmt.Fprintf(stdout, "listening on %s\n", b.Addr())
	if addr := b.ConsoleAddr(); addr != "" {
		fmt.Fprintf(stdout, "web console on %s\n", browserURL(addr))
	}
	admin := startAdmin(cfg.AdminAddr, cfg.Pprof, reg, b, logger)
	logger.Info("moldau ready", "version", versionString(), "addr", b.Addr(), "data_dir", dataDirDesc(cfg), "node_id", cfg.NodeID, "startup", time.Since(started).Round(time.Microsecond))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	failed := false
	select {
	case s := <-sig:
		logger.Info("shutting down", "signal", s.String())
	case <-b.Failed():
		// A storage error stopped the node (etcd's rule): exit non-zero
		// so that the supervisor restarts it and recovery runs.
		logger.Error("shutting down", "err", b.Err())
		failed = true
	}
	signal.Reset(syscall.SIGINT, syscall.SIGTERM) // a second signal kills at once
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if admin != nil {
		_ = admin.Shutdown(ctx)
	}
	// A shutdown that has not finished well before its deadline logs
	// every goroutine's stack, so that what holds it can be seen.
	stuck := time.AfterFunc(20*time.Second, func() {
		var buf strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&buf, 2)
		logger.Error("shutdown still running after 20 s; goroutines follow")
		fmt.Fprintln(os.Stderr, buf.String())
	})
	defer stuck.Stop()
	if err := b.Close(ctx); err != nil {
		logger.Error("shutdown", "err", err)
		return 1
	}
	if failed {
		return 1
	}
	logger.Info("stopped cleanly")
	return 0
}

// browserURL is the http:// URL of a listener bound to addr, with a
// wildcard host (0.0.0.0, ::) shown as 127.0.0.1 for a browser on this
// machine.
func browserURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func dataDirDesc(cfg config.Config) string {
	if cfg.Memory {
		return "(memory)"
	}
	return cfg.DataDir
}
