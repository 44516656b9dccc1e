// Command nullbroker is the physical ceiling for produce benchmarks: the least
// a Kafka-protocol broker can do on this machine. It answers ApiVersions,
// Metadata, CreateTopics, InitProducerId and Produce (decoded with kmsg),
// checks every RecordBatch's CRC-32C, appends the raw batches to one file and
// acknowledges; with acks=all it fdatasyncs the file before answering. It
// keeps no index, serves no Fetch and checks no sequence numbers, so nothing a
// real broker does can be faster. The first line on stdout is
// "listening on HOST:PORT".
//
//	go run ./bench/nullbroker -data-dir /tmp/null
package main

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxVersions is what ApiVersions advertises; Produce stops at v11 so topics
// are named (v13 names them by id).
var maxVersions = map[int16]int16{
	0:  11, // Produce
	3:  12, // Metadata
	18: 4,  // ApiVersions
	19: 7,  // CreateTopics
	22: 4,  // InitProducerId
}

var minVersions = map[int16]int16{0: 3}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type broker struct {
	host       string
	port       int32
	partitions int32

	mu     sync.Mutex
	topics map[string]*topic
	pid    int64

	fileMu sync.Mutex
	file   *os.File
}

type topic struct {
	id   [16]byte
	next []int64 // next offset per partition
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	dataDir := flag.String("data-dir", "", "directory for the append-only file (required)")
	partitions := flag.Int("partitions", 1, "partitions of an auto-created topic")
	flag.Parse()
	if *dataDir == "" {
		fmt.Fprintln(os.Stderr, "nullbroker: -data-dir is required")
		os.Exit(2)
	}
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "nullbroker:", err)
		os.Exit(1)
	}
	f, err := os.OpenFile(filepath.Join(*dataDir, "null.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nullbroker:", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nullbroker:", err)
		os.Exit(1)
	}
	ta := ln.Addr().(*net.TCPAddr)
	b := &broker{host: ta.IP.String(), port: int32(ta.Port), partitions: int32(*partitions), topics: map[string]*topic{}, file: f}
	fmt.Printf("listening on %s\n", ln.Addr())
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go b.serve(c)
	}
}

func (b *broker) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 1<<20)
	w := bufio.NewWriterSize(c, 64<<10)
	var buf, out []byte
	for {
		var size [4]byte
		if _, err := io.ReadFull(r, size[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(size[:]))
		if n < 8 || n > 100<<20 {
			return
		}
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		key := int16(binary.BigEndian.Uint16(buf[0:]))
		version := int16(binary.BigEndian.Uint16(buf[2:]))
		corr := buf[4:8]
		req := kmsg.RequestForKey(key)
		maxV, ok := maxVersions[key]
		downgraded := false
		if req == nil || !ok || version > maxV || version < minVersions[key] {
			if key != 18 {
				return
			}
			// ApiVersions at an unknown version: answer v0 with UNSUPPORTED_VERSION.
			downgraded = true
		}
		var resp kmsg.Response
		if downgraded {
			r, _ := b.handle(&kmsg.ApiVersionsRequest{Version: 0})
			r.(*kmsg.ApiVersionsResponse).ErrorCode = kerr.UnsupportedVersion.Code
			resp = r
		} else {
			req.SetVersion(version)
			body, err := skipHeader(buf[8:], req.IsFlexible())
			if err != nil {
				return
			}
			if err := req.ReadFrom(body); err != nil {
				return
			}
			if resp, err = b.handle(req); err != nil {
				return
			}
		}
		if resp == nil { // acks=0
			continue
		}
		out = append(out[:0], 0, 0, 0, 0)
		out = append(out, corr...)
		if resp.IsFlexible() && key != 18 {
			out = append(out, 0)
		}
		out = resp.AppendTo(out)
		binary.BigEndian.PutUint32(out, uint32(len(out)-4))
		if _, err := w.Write(out); err != nil {
			return
		}
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

// skipHeader skips the client id (nullable int16 string) and, for flexible
// requests, the header's tagged fields.
func skipHeader(b []byte, flexible bool) ([]byte, error) {
	if len(b) < 2 {
		return nil, errors.New("short header")
	}
	l := int(int16(binary.BigEndian.Uint16(b)))
	b = b[2:]
	if l > 0 {
		if l > len(b) {
			return nil, errors.New("short client id")
		}
		b = b[l:]
	}
	if !flexible {
		return b, nil
	}
	num, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errors.New("bad tags")
	}
	b = b[n:]
	for range num {
		_, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("bad tag")
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || int(size) > len(b)-n {
			return nil, errors.New("bad tag size")
		}
		b = b[n+int(size):]
	}
	return b, nil
}

func (b *broker) topicLocked(name string, partitions int32) *topic {
	t := b.topics[name]
	if t == nil {
		t = &topic{next: make([]int64, partitions)}
		_, _ = rand.Read(t.id[:])
		b.topics[name] = t
	}
	return t
}

func (b *broker) handle(req kmsg.Request) (kmsg.Response, error) {
	switch req := req.(type) {
	case *kmsg.ApiVersionsRequest:
		resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
		for _, key := range []int16{0, 3, 18, 19, 22} {
			k := kmsg.NewApiVersionsResponseApiKey()
			k.ApiKey, k.MinVersion, k.MaxVersion = key, minVersions[key], maxVersions[key]
			resp.ApiKeys = append(resp.ApiKeys, k)
		}
		return resp, nil
	case *kmsg.MetadataRequest:
		resp := req.ResponseKind().(*kmsg.MetadataResponse)
		br := kmsg.NewMetadataResponseBroker()
		br.NodeID, br.Host, br.Port = 0, b.host, b.port
		resp.Brokers = append(resp.Brokers, br)
		resp.ControllerID = 0
		b.mu.Lock()
		var names []string
		if req.Topics == nil {
			for name := range b.topics {
				names = append(names, name)
			}
		} else {
			for _, t := range req.Topics {
				if t.Topic != nil {
					names = append(names, *t.Topic)
				}
			}
		}
		for _, name := range names {
			t := b.topicLocked(name, b.partitions)
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic = kmsg.StringPtr(name)
			mt.TopicID = t.id
			for p := range t.next {
				mp := kmsg.NewMetadataResponseTopicPartition()
				mp.Partition, mp.Leader, mp.Replicas, mp.ISR = int32(p), 0, []int32{0}, []int32{0}
				mt.Partitions = append(mt.Partitions, mp)
			}
			resp.Topics = append(resp.Topics, mt)
		}
		b.mu.Unlock()
		return resp, nil
	case *kmsg.CreateTopicsRequest:
		resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
		b.mu.Lock()
		for _, rt := range req.Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic = rt.Topic
			if _, ok := b.topics[rt.Topic]; ok {
				st.ErrorCode = kerr.TopicAlreadyExists.Code
			} else {
				n := rt.NumPartitions
				if n <= 0 {
					n = b.partitions
				}
				t := b.topicLocked(rt.Topic, n)
				st.TopicID, st.NumPartitions, st.ReplicationFactor = t.id, n, 1
			}
			resp.Topics = append(resp.Topics, st)
		}
		b.mu.Unlock()
		return resp, nil
	case *kmsg.InitProducerIDRequest:
		resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
		b.mu.Lock()
		b.pid++
		resp.ProducerID, resp.ProducerEpoch = b.pid, 0
		b.mu.Unlock()
		return resp, nil
	case *kmsg.ProduceRequest:
		return b.produce(req)
	}
	return nil, errors.New("unsupported request")
}

func (b *broker) produce(req *kmsg.ProduceRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	wrote := false
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition, sp.LogAppendTime = rp.Partition, -1
			count, code := checkBatches(rp.Records)
			b.mu.Lock()
			t := b.topics[rt.Topic]
			switch {
			case t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.next):
				code = kerr.UnknownTopicOrPartition.Code
			case code == 0:
				sp.BaseOffset = t.next[rp.Partition]
				t.next[rp.Partition] += count
			}
			b.mu.Unlock()
			if code == 0 {
				b.fileMu.Lock()
				_, err := b.file.Write(rp.Records)
				b.fileMu.Unlock()
				if err != nil {
					return nil, err
				}
				wrote = true
			}
			sp.ErrorCode = code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if req.Acks == -1 && wrote {
		b.fileMu.Lock()
		err := syscall.Fdatasync(int(b.file.Fd()))
		b.fileMu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	if req.Acks == 0 {
		return nil, nil
	}
	return resp, nil
}

// checkBatches walks RecordBatch v2 framing, verifies each CRC-32C and
// returns the number of offsets the batches use.
func checkBatches(rec []byte) (int64, int16) {
	var count int64
	for len(rec) > 0 {
		if len(rec) < 61 {
			return 0, kerr.CorruptMessage.Code
		}
		total := 12 + int(int32(binary.BigEndian.Uint32(rec[8:])))
		if total < 61 || total > len(rec) || rec[16] != 2 {
			return 0, kerr.CorruptMessage.Code
		}
		if crc32.Checksum(rec[21:total], castagnoli) != binary.BigEndian.Uint32(rec[17:]) {
			return 0, kerr.CorruptMessage.Code
		}
		count += int64(int32(binary.BigEndian.Uint32(rec[23:]))) + 1
		rec = rec[total:]
	}
	return count, 0
}
