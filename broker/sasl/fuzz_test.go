package sasl

import (
	"testing"
	"time"
)

// Fuzz targets for everything a client's bytes reach before it is
// authenticated: each server's steps, and the JAAS parser (config). They
// must never panic; run long with `go test -fuzz FuzzScram ./broker/sasl`.

func FuzzPlain(f *testing.F) {
	f.Add([]byte("\x00alice\x00alice-secret"))
	f.Add([]byte("alice\x00alice\x00pw"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		s := NewPlainServer(func(u string) (string, bool) { return "alice-secret", u == "alice" })
		_, done, err := s.Step(msg)
		if done && (err != nil || s.Result().Principal != "User:alice") {
			t.Fatalf("done with %v / %+v", err, s.Result())
		}
	})
}

func FuzzScram(f *testing.F) {
	f.Add([]byte("n,,n=user,r=abc"), []byte("c=biws,r=abcSERVER,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	f.Add([]byte("n,a=user,n=user,r=abc,tokenauth=true"), []byte("c=bixhPXVzZXIs,r=abcSERVER,x=1,p=AAAA"))
	cred, _ := NewScramCredential(ScramSHA256, "pencil", []byte("salt"), 4096)
	f.Fuzz(func(t *testing.T, first, final []byte) {
		s, _ := NewScramServer(ScramSHA256, func(string, string, bool) (ScramCredential, string, bool) { return cred, "", true })
		s.(*scramServer).newNonce = func() string { return "SERVER" }
		if _, done, err := s.Step(first); err != nil || done {
			return
		}
		if _, done, err := s.Step(final); done && err == nil {
			t.Fatalf("fuzzed proof accepted: %q %q", first, final)
		}
	})
}

func FuzzOAuthBearer(f *testing.F) {
	f.Add([]byte("n,,\x01auth=Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIiwiZXhwIjo5OTk5OTk5OTk5fQ.\x01\x01"))
	f.Add([]byte("n,a=x,\x01auth=Bearer a.b.c\x01k=v\x01\x01"))
	f.Add([]byte("n,,\x01\x01"))
	v, _ := NewUnsecuredValidator(nil)
	v.Now = func() time.Time { return time.Unix(1_700_000_000, 0) }
	f.Fuzz(func(t *testing.T, msg []byte) {
		s := NewOAuthBearerServer(v)
		if _, _, err := s.Step(msg); err == nil {
			_, _, _ = s.Step([]byte{1})
		}
	})
}

func FuzzJAAS(f *testing.F) {
	f.Add(`org.apache.kafka.common.security.plain.PlainLoginModule required user_a="b" /* c */ d='e\'f'; // g`)
	f.Add("X required;Y optional a=b;")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseJAAS(s)
	})
}

func FuzzUnmarshalScramCredential(f *testing.F) {
	c, _ := NewScramCredential(ScramSHA512, "pw", []byte("salt"), 4096)
	b, _ := c.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := UnmarshalScramCredential(ScramSHA512, b)
		if err != nil {
			return
		}
		again, err := c.MarshalBinary()
		if err != nil || string(again) != string(b) {
			t.Fatalf("decoded %x, re-encoded %x (%v)", b, again, err)
		}
	})
}
