package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DefaultReloadInterval is how often, at most, a listener looks at its
// keystore and truststore files for changes (on a new connection's
// handshake).
const DefaultReloadInterval = 5 * time.Second

// Server is one listener's TLS: its current *tls.Config, reloaded when the
// keystore or truststore file changes, and its principal mapping.
//
// Reload: every handshake asks Config's GetConfigForClient, which, at most
// once per reload interval, stats the files (modification time and size);
// when one changed it rebuilds the config from the files. New connections
// use the new certificate; established ones keep theirs. A reload that
// fails (a file half written, a wrong password) is logged and the old
// config stays; the next interval tries again.
//
// Locking: mu guards cur, stamps and checked; a handshake holds it for a
// stat of two files at most once per interval, and for a rebuild.
type Server struct {
	opts     Options
	logger   *slog.Logger
	interval time.Duration

	mu      sync.Mutex
	cur     *tls.Config
	stamps  []fileStamp
	checked time.Time
}

type fileStamp struct {
	path string
	mod  time.Time
	size int64
}

// New loads the keystore and truststore of o. Errors are *KeyError naming
// the setting at fault.
func New(o Options, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{opts: o, logger: logger, interval: DefaultReloadInterval}
	cfg, stamps, err := s.build()
	if err != nil {
		return nil, err
	}
	s.cur, s.stamps, s.checked = cfg, stamps, time.Now()
	return s, nil
}

// SetReloadInterval changes how often the files are looked at (tests).
func (s *Server) SetReloadInterval(d time.Duration) {
	s.mu.Lock()
	s.interval = d
	s.mu.Unlock()
}

// Options returns the settings the server was built from.
func (s *Server) Options() Options { return s.opts }

// build reads the files and makes a config; the stamps are taken before
// reading, so a change while reading is seen at the next check.
func (s *Server) build() (*tls.Config, []fileStamp, error) {
	o := &s.opts
	var stamps []fileStamp
	for _, p := range []string{o.KeystoreLocation, o.TruststoreLocation} {
		if p != "" {
			stamps = append(stamps, stampOf(p))
		}
	}
	cert, err := o.loadKeystore()
	if err != nil {
		return nil, nil, err
	}
	pool, err := o.loadTruststore()
	if err != nil {
		return nil, nil, err
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		MinVersion:   o.MinVersion,
		MaxVersion:   o.MaxVersion,
		CipherSuites: o.CipherSuites,
	}
	switch o.ClientAuth {
	case ClientAuthRequested:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case ClientAuthRequired:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, stamps, nil
}

func stampOf(path string) fileStamp {
	st := fileStamp{path: path}
	if fi, err := os.Stat(path); err == nil {
		st.mod, st.size = fi.ModTime(), fi.Size()
	}
	return st
}

// Config is the listener's TLS config: each handshake gets the current
// one (GetConfigForClient), reloaded first if a file changed.
func (s *Server) Config() *tls.Config {
	return &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return s.current(), nil }}
}

// current returns the config, reloading it if a file changed and the
// interval passed since the last look.
func (s *Server) current() *tls.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.stamps) == 0 || time.Since(s.checked) < s.interval {
		return s.cur
	}
	s.checked = time.Now()
	changed := false
	for _, st := range s.stamps {
		if now := stampOf(st.path); !now.mod.Equal(st.mod) || now.size != st.size {
			changed = true
		}
	}
	if !changed {
		return s.cur
	}
	cfg, stamps, err := s.build()
	if err != nil {
		s.logger.Warn("TLS reload failed; keeping the current certificate", "listener", s.opts.Listener, "err", err)
		return s.cur
	}
	s.cur, s.stamps = cfg, stamps
	s.logger.Info("TLS keystore/truststore reloaded", "listener", s.opts.Listener, "subject", cfg.Certificates[0].Leaf.Subject.String(), "not_after", cfg.Certificates[0].Leaf.NotAfter)
	return cfg
}

// Principal maps a client certificate chain to a principal with the
// listener's ssl.principal.mapping.rules (protocol.ListenerConfig.Principal).
func (s *Server) Principal(chain []*x509.Certificate) (string, error) {
	return PrincipalFunc(s.opts.Rules)(chain)
}
