// Command kfake runs franz-go's kfake as its own process, one broker, so the
// benchmark runner can start it like any other peer. The first line on stdout
// is "listening on HOST:PORT", as with Moldau and tests/compat/kafka-ref.sh.
//
//	go run ./bench/kfake -data-dir /tmp/kf
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 0, "port to listen on (0: a free one)")
	dataDir := flag.String("data-dir", "", "persist to this directory (kfake.DataDir); empty keeps everything in memory")
	flag.Parse()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(*port), kfake.AllowAutoTopicCreation()}
	if *dataDir != "" {
		opts = append(opts, kfake.DataDir(*dataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfake:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", c.ListenAddrs()[0])
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	c.Close()
}
