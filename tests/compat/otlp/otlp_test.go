package otlp

import (
	"bytes"
	"encoding/hex"
	"testing"
	"time"
)

// The encoding of Gauge("m", 1.5, 1 ns after the epoch), byte by byte:
// 0a LEN resource_metrics { 12 LEN scope_metrics { 12 LEN metric {
// 0a 01 'm' name, 2a LEN gauge { 0a LEN point { 19 <8-byte time>
// 21 <8-byte double 1.5> }}}}}.
func TestGaugeEncoding(t *testing.T) {
	got := Gauge("m", 1.5, time.Unix(0, 1))
	want, _ := hex.DecodeString("0a1d" + "121b" + "1219" + "0a016d" + "2a14" + "0a12" +
		"190100000000000000" + "21000000000000f83f")
	if !bytes.Equal(got, want) {
		t.Fatalf("got  %x\nwant %x", got, want)
	}
}
