package config

// The cluster's start-up settings: the voters (Peers) and this node's
// inter-broker listener (PeerAddr). They come from
//
//	--peers 1@HOST:PORT,2@HOST:PORT,3@HOST:PORT   MOLDAU_PEERS   controller.quorum.voters
//	--peer-addr HOST:PORT                          MOLDAU_PEER_ADDR
//	                                               the controller listener of listeners
//	                                               (named by controller.listener.names,
//	                                               default CONTROLLER)
//
// with the usual precedence (properties < environment < flags), and are
// checked together once every layer is applied (resolveCluster): a Config
// with Peers always has a PeerAddr, one without Peers never has.
//
// Kafka 4's controller.quorum.bootstrap.servers (KIP-853 dynamic quorums)
// lists no node ids and is not read: the voters come from
// controller.quorum.voters or --peers only.

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// ErrInvalidPeers is matched (errors.Is) by the errors of ParsePeers.
var ErrInvalidPeers = errors.New("config: invalid peers")

// defaultControllerListener is the listener name that carries PeerAddr in
// listeners when controller.listener.names is not set.
const defaultControllerListener = "CONTROLLER"

// ParsePeers parses a voter list in Kafka's controller.quorum.voters syntax,
// "1@host1:9093,2@host2:9093" (spaces around entries allowed; IPv6 hosts in
// brackets). Node ids are integers 0..2147483647, each listed once; every
// address is one the other nodes can dial: a host that is not empty or the
// unspecified address, a port 1..65535, each address listed once. The
// empty string is no peers (nil). Errors match ErrInvalidPeers.
func ParsePeers(s string) ([]Peer, error) {
	peers, err := parsePeers(s)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrInvalidPeers, s, err)
	}
	return peers, nil
}

// parsePeers is ParsePeers with the bare reason as error, for
// InvalidConfigError.
func parsePeers(s string) ([]Peer, error) {
	entries := splitList(s)
	if len(entries) == 0 {
		return nil, nil
	}
	peers := make([]Peer, 0, len(entries))
	for i, e := range entries {
		if e == "" {
			return nil, fmt.Errorf("entry %d is empty; want ID@HOST:PORT,ID@HOST:PORT,...", i+1)
		}
		id, addr, ok := strings.Cut(e, "@")
		if !ok {
			return nil, fmt.Errorf("entry %q: want ID@HOST:PORT, for example 1@127.0.0.1:9093", e)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 32)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("entry %q: node id %q must be an integer from 0 to 2147483647", e, id)
		}
		addr = strings.TrimSpace(addr)
		if err := checkAdvertiseAddr(addr); err != nil {
			return nil, fmt.Errorf("entry %q: %v", e, err)
		}
		for _, p := range peers {
			if p.NodeID == int32(n) {
				return nil, fmt.Errorf("node id %d is listed twice", n)
			}
			if p.Addr == addr {
				return nil, fmt.Errorf("address %s is listed for nodes %d and %d", addr, p.NodeID, n)
			}
		}
		peers = append(peers, Peer{NodeID: int32(n), Addr: addr})
	}
	return peers, nil
}

// FormatPeers renders peers as controller.quorum.voters does:
// "1@host1:9093,2@host2:9093", in the given order.
func FormatPeers(peers []Peer) string {
	parts := make([]string, len(peers))
	for i, p := range peers {
		parts[i] = strconv.FormatInt(int64(p.NodeID), 10) + "@" + p.Addr
	}
	return strings.Join(parts, ",")
}

// peerIDs is "1, 2, 3", for error messages.
func peerIDs(peers []Peer) string {
	ids := make([]string, len(peers))
	for i, p := range peers {
		ids[i] = strconv.FormatInt(int64(p.NodeID), 10)
	}
	return strings.Join(ids, ", ")
}

// Self returns this node's entry of Peers (the one with NodeID), and false
// when Peers does not list it (or is empty).
func (c Config) Self() (Peer, bool) {
	i := slices.IndexFunc(c.Peers, func(p Peer) bool { return p.NodeID == c.NodeID })
	if i < 0 {
		return Peer{}, false
	}
	return c.Peers[i], true
}

// ResolveCluster checks the cluster settings of a Config built by hand (Load
// does the same) and completes them: with Peers, the ids must be unique and
// at least 0, every address dialable, NodeID among them, and PeerAddr (if
// set) a listen address with a non-zero port; an empty PeerAddr becomes this
// node's entry of Peers. Without Peers, PeerAddr is cleared: the node is
// the single-node broker. Errors are *InvalidConfigError.
func (c *Config) ResolveCluster() error {
	return c.resolveCluster(clusterOrigin{})
}

// clusterOrigin says where Peers and PeerAddr were set, for the errors:
// the setting's name as the user wrote it ("peers" for --peers and
// MOLDAU_PEERS, "controller.quorum.voters"; "peer address", "listeners")
// and where (a flag, an environment variable, a file and line).
type clusterOrigin struct {
	peersName, peersWhere       string
	peerAddrName, peerAddrWhere string
}

// resolveCluster is ResolveCluster, naming o in its errors.
func (c *Config) resolveCluster(o clusterOrigin) error {
	if o.peersName == "" {
		o.peersName = "peers"
	}
	if o.peerAddrName == "" {
		o.peerAddrName = "peer address"
	}
	if len(c.Peers) == 0 {
		c.Peers, c.PeerAddr = nil, ""
		return nil
	}
	// Hand-built Peers have not been through parsePeers: check them the
	// same way.
	if _, err := parsePeers(FormatPeers(c.Peers)); err != nil {
		return &InvalidConfigError{Name: o.peersName, Value: FormatPeers(c.Peers), Reason: err.Error(), Where: o.peersWhere}
	}
	self, ok := c.Self()
	if !ok && c.PeerAddr == "" {
		return &InvalidConfigError{Name: o.peersName, Value: FormatPeers(c.Peers), Where: o.peersWhere,
			Reason: fmt.Sprintf("this node's id %d (--node-id, node.id) is not among the voters %s: list every voter, this node included (or, to join a running cluster as a new node, give its --peer-addr)", c.NodeID, peerIDs(c.Peers))}
	}
	if !ok {
		// A joiner (a new node of a running cluster): the others dial
		// the address it registers, so it must name a host and a port.
		if err := checkListenAddr(c.PeerAddr); err != nil {
			return &InvalidConfigError{Name: o.peerAddrName, Value: c.PeerAddr, Reason: err.Error(), Where: o.peerAddrWhere}
		}
		host, port, _ := net.SplitHostPort(c.PeerAddr)
		if ip := net.ParseIP(host); host == "" || port == "0" || (ip != nil && ip.IsUnspecified()) {
			return &InvalidConfigError{Name: o.peerAddrName, Value: c.PeerAddr, Where: o.peerAddrWhere,
				Reason: "a node joining a cluster (its id is not among the peers) registers this address for the others to dial: give a host they can reach and a port other than 0"}
		}
		if sameListener(c.PeerAddr, c.Addr) {
			return &InvalidConfigError{Name: o.peerAddrName, Value: c.PeerAddr, Where: o.peerAddrWhere,
				Reason: fmt.Sprintf("the inter-broker listener cannot share the Kafka listener %s: give it a port of its own", c.Addr)}
		}
		return nil
	}
	if c.PeerAddr == "" {
		c.PeerAddr = self.Addr
	} else {
		if err := checkListenAddr(c.PeerAddr); err != nil {
			return &InvalidConfigError{Name: o.peerAddrName, Value: c.PeerAddr, Reason: err.Error(), Where: o.peerAddrWhere}
		}
		if _, port, _ := net.SplitHostPort(c.PeerAddr); port == "0" {
			return &InvalidConfigError{Name: o.peerAddrName, Value: c.PeerAddr, Where: o.peerAddrWhere,
				Reason: fmt.Sprintf("port 0 is not a port the other voters can reach (they dial %s, this node's entry of the peers)", self.Addr)}
		}
	}
	if sameListener(c.PeerAddr, c.Addr) {
		return &InvalidConfigError{Name: o.peerAddrName, Value: c.PeerAddr, Where: o.peerAddrWhere,
			Reason: fmt.Sprintf("the inter-broker listener cannot share the Kafka listener %s: give it a port of its own", c.Addr)}
	}
	return nil
}

// sameListener reports whether listening on a and on b would take the same
// port: the same port on the same host, or on any host when either binds
// every address (an empty or unspecified host). Port 0 never collides.
func sameListener(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	wildcard := func(h string) bool {
		ip := net.ParseIP(h)
		return h == "" || (ip != nil && ip.IsUnspecified())
	}
	return ha == hb || wildcard(ha) || wildcard(hb)
}

// controllerListenerName is the first name of controller.listener.names in
// props, else CONTROLLER.
func controllerListenerName(props map[string]string) string {
	for _, n := range splitList(strings.ToUpper(props["controller.listener.names"])) {
		if n != "" {
			return n
		}
	}
	return defaultControllerListener
}

// controllerNames is controller.listener.names in props, else CONTROLLER:
// the listeners that are not the Kafka listener.
func controllerNames(props map[string]string) string {
	if v := strings.TrimSpace(props["controller.listener.names"]); v != "" {
		return v
	}
	return defaultControllerListener
}

// findListener returns the address of the entry of listeners named name.
func findListener(listeners, name string) (string, bool) {
	for _, e := range splitList(listeners) {
		if n, a := listenerEntry(e); n == name {
			return a, true
		}
	}
	return "", false
}
