package metadata

// Peers: the nodes of the metadata Raft group and their inter-broker
// (Raft) addresses, records 14 and 15 (FORMAT.md "Peers"). A node that
// joins a running cluster commits its address with RegisterPeer; every
// node dials the peers the state names, so a restarted node finds every
// peer from the replayed log, not only from --peers. Whether a peer is a
// voter or a learner of group 0 is Raft's configuration, not this state's.

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
)

// The peer record types (their own block: types 12 and 13 belong to
// partition reassignment).
const (
	TypeRegisterPeer   RecordType = 14
	TypeUnregisterPeer RecordType = 15
)

func init() {
	typeNames[TypeRegisterPeer] = "RegisterPeer"
	typeNames[TypeUnregisterPeer] = "UnregisterPeer"
}

// Peer rejections.
var (
	ErrInvalidPeer = errors.New("metadata: invalid peer")
	ErrUnknownPeer = errors.New("metadata: unknown peer")
)

// RegisterPeer records (or changes) a node's inter-broker address.
type RegisterPeer struct {
	NodeID   int32  `json:"node_id"`
	PeerAddr string `json:"peer_addr"`
}

// UnregisterPeer forgets a node's address (the node left the cluster).
type UnregisterPeer struct {
	NodeID int32 `json:"node_id"`
}

func (RegisterPeer) Type() RecordType   { return TypeRegisterPeer }
func (UnregisterPeer) Type() RecordType { return TypeUnregisterPeer }

// PeerInfo is one peer as the state holds it.
type PeerInfo struct {
	NodeID   int32  `json:"node_id"`
	PeerAddr string `json:"peer_addr"`
}

// Peer returns a node's registered inter-broker address.
func (v *View) Peer(id int32) (string, bool) {
	a, ok := v.peers[id]
	return a, ok
}

// Peers returns every registered peer, by node id.
func (v *View) Peers() []PeerInfo {
	out := make([]PeerInfo, 0, len(v.peers))
	for id, a := range v.peers {
		out = append(out, PeerInfo{NodeID: id, PeerAddr: a})
	}
	slices.SortFunc(out, func(a, b PeerInfo) int { return int(a.NodeID) - int(b.NodeID) })
	return out
}

// validatePeer checks a peer's id and address (HOST:PORT, port 1-65535).
func validatePeer(id int32, addr string) error {
	if id < 0 {
		return fmt.Errorf("%w: node id %d", ErrInvalidPeer, id)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return fmt.Errorf("%w: node %d: address %q", ErrInvalidPeer, id, addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return fmt.Errorf("%w: node %d: address %q", ErrInvalidPeer, id, addr)
	}
	return nil
}

// applyPeer applies a peer record to v (a clone); handled reports
// whether r is one.
func (v *View) applyPeer(r Record) (handled bool, err error) {
	switch r := r.(type) {
	case RegisterPeer:
		if err := validatePeer(r.NodeID, r.PeerAddr); err != nil {
			return true, err
		}
		v.peers[r.NodeID] = r.PeerAddr
		return true, nil
	case UnregisterPeer:
		if _, ok := v.peers[r.NodeID]; !ok {
			return true, fmt.Errorf("%w: %d", ErrUnknownPeer, r.NodeID)
		}
		delete(v.peers, r.NodeID)
		return true, nil
	}
	return false, nil
}

// decodePeerRecord decodes a peer record's body; handled reports whether
// t is a peer record type.
func decodePeerRecord(t RecordType, body []byte) (r Record, handled bool, err error) {
	switch t {
	case TypeRegisterPeer:
		r, err = decodeAs[RegisterPeer](body)
	case TypeUnregisterPeer:
		r, err = decodeAs[UnregisterPeer](body)
	default:
		return nil, false, nil
	}
	return r, true, err
}

// restorePeers validates a snapshot's peers into v.
func (v *View) restorePeers(ps []PeerInfo) error {
	for _, p := range ps {
		if err := validatePeer(p.NodeID, p.PeerAddr); err != nil {
			return err
		}
		if _, dup := v.peers[p.NodeID]; dup {
			return fmt.Errorf("%w: peer %d twice", ErrInvalidPeer, p.NodeID)
		}
		v.peers[p.NodeID] = p.PeerAddr
	}
	return nil
}
