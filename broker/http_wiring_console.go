package broker

import (
	"net/http"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/moldau/moldau/broker/console"
	"github.com/moldau/moldau/broker/serde"
)

// newConsole builds the web console over the front ends' shared clients
// (http_wiring.go): its handler and its Close.
func (b *Broker) newConsole(h *httpFrontEnds, registry *sr.Client, codec *serde.Serde) (http.Handler, func(), error) {
	s, err := console.New(console.Config{
		Clients:  h.clients,
		Serde:    codec,
		Registry: registry,
		Gatherer: h.gatherer,
		Version:  h.version,
		Logger:   b.logger.With("component", "console"),
		// --http-allowed-hosts: with names, the Host check covers every
		// connection, not only loopback ones.
		AllowedHosts: b.cfg.HTTPAllowedHosts,
	})
	if err != nil {
		return nil, nil, err
	}
	return s.Handler(), s.Close, nil
}
