//go:build !console_api

package broker

// TEMPORARY, removed when branch conback (broker/console.Config) is
// merged: the console package has no constructor yet on this branch, so
// the console is reported as not built and the broker runs without it.

import (
	"errors"
	"net/http"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/moldau/moldau/broker/serde"
)

func (b *Broker) newConsole(*httpFrontEnds, *sr.Client, *serde.Serde) (http.Handler, func(), error) {
	return nil, nil, errors.New("broker: the web console is not built into this binary yet (broker/console.New missing)")
}
