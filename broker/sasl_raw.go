package broker

import "github.com/moldau/moldau/protocol"

// setRawSASL switches the connection to bare SASL tokens after a v0
// SaslHandshake reply. TODO(sasl): set protocol.Reply.RawSASL once the
// listeners work lands on main.
func setRawSASL(r *protocol.Reply) {}
