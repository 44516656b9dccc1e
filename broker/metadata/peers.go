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
	// ErrPeerIDInUse: a RegisterPeer names a node id registered with
	// another directory id (another node's data directory: a node
	// started with an id that is taken).
	ErrPeerIDInUse = errors.New("metadata: node id in use by another node (directory id differs)")
)

// RecordVersionPeerDir is the record version of a RegisterPeer that
// carries its node's directory id (FORMAT.md "Peers"). Only RegisterPeer
// has a version 2; Encode writes it when DirectoryID is set, version 1
// (the same bytes as before directory ids existed) otherwise.
const RecordVersionPeerDir byte = 2

// snapshotVersionPeerDirs is the snapshot version whose peers may carry
// a directory id; Snapshot writes it only when some peer has one.
const snapshotVersionPeerDirs byte = 3

// RegisterPeer records (or changes) a node's inter-broker address.
// DirectoryID identifies the node's data directory (KIP-853's
// VoterDirectoryId): once a node id is registered with one, only a
// RegisterPeer with the same directory id may change its address.
type RegisterPeer struct {
	NodeID      int32  `json:"node_id"`
	PeerAddr    string `json:"peer_addr"`
	DirectoryID UUID   `json:"directory_id,omitzero"`
}

// registerPeerV1 is version 1's body (no directory id: the field is
// refused as unknown).
type registerPeerV1 struct {
	NodeID   int32  `json:"node_id"`
	PeerAddr string `json:"peer_addr"`
}

// recordVersionOf is the version byte Encode writes for r.
func recordVersionOf(r Record) byte {
	if rp, ok := r.(RegisterPeer); ok && !rp.DirectoryID.IsZero() {
		return RecordVersionPeerDir
	}
	return RecordVersion
}

// decodeRegisterPeerV2 decodes a version 2 record: a RegisterPeer with a
// non-zero directory id, nothing else.
func decodeRegisterPeerV2(t RecordType, body []byte) (Record, error) {
	if t != TypeRegisterPeer {
		return nil, fmt.Errorf("type %d has no version 2", t)
	}
	r, err := decodeAs[RegisterPeer](body)
	if err != nil {
		return nil, err
	}
	if r.DirectoryID.IsZero() {
		return nil, errors.New("zero directory id")
	}
	return r, nil
}

// UnregisterPeer forgets a node's address (the node left the cluster).
type UnregisterPeer struct {
	NodeID int32 `json:"node_id"`
}

func (RegisterPeer) Type() RecordType   { return TypeRegisterPeer }
func (UnregisterPeer) Type() RecordType { return TypeUnregisterPeer }

// PeerInfo is one peer as the state holds it. DirectoryID is zero for a
// peer registered by a version 1 record (before directory ids).
type PeerInfo struct {
	NodeID      int32  `json:"node_id"`
	PeerAddr    string `json:"peer_addr"`
	DirectoryID UUID   `json:"directory_id,omitzero"`
}

// Peer returns a node's registered inter-broker address.
func (v *View) Peer(id int32) (string, bool) {
	p, ok := v.peers[id]
	return p.PeerAddr, ok
}

// PeerDirectoryID returns a node's registered directory id (zero: none
// recorded).
func (v *View) PeerDirectoryID(id int32) (UUID, bool) {
	p, ok := v.peers[id]
	return p.DirectoryID, ok
}

// Peers returns every registered peer, by node id.
func (v *View) Peers() []PeerInfo {
	out := make([]PeerInfo, 0, len(v.peers))
	for _, p := range v.peers {
		out = append(out, p)
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
		// A node id registered with a directory id stays that
		// directory's: another one (or none, a version 1 record that
		// cannot prove it) would take the id over and cut the real
		// node off. A peer registered without one adopts the first.
		if old, ok := v.peers[r.NodeID]; ok && !old.DirectoryID.IsZero() && old.DirectoryID != r.DirectoryID {
			return true, fmt.Errorf("%w: node %d is registered with directory id %s at %s, the record names %s at %s",
				ErrPeerIDInUse, r.NodeID, old.DirectoryID, old.PeerAddr, r.DirectoryID, r.PeerAddr)
		}
		v.peers[r.NodeID] = PeerInfo{NodeID: r.NodeID, PeerAddr: r.PeerAddr, DirectoryID: r.DirectoryID}
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
		var v1 registerPeerV1
		v1, err = decodeAs[registerPeerV1](body)
		r = RegisterPeer{NodeID: v1.NodeID, PeerAddr: v1.PeerAddr}
	case TypeUnregisterPeer:
		r, err = decodeAs[UnregisterPeer](body)
	default:
		return nil, false, nil
	}
	return r, true, err
}

// restorePeers validates a snapshot's peers into v; dirs: the snapshot's
// version may carry directory ids.
func (v *View) restorePeers(ps []PeerInfo, dirs bool) error {
	for _, p := range ps {
		if err := validatePeer(p.NodeID, p.PeerAddr); err != nil {
			return err
		}
		if !dirs && !p.DirectoryID.IsZero() {
			return fmt.Errorf("%w: peer %d: a directory id in a snapshot version below %d", ErrInvalidPeer, p.NodeID, snapshotVersionPeerDirs)
		}
		if _, dup := v.peers[p.NodeID]; dup {
			return fmt.Errorf("%w: peer %d twice", ErrInvalidPeer, p.NodeID)
		}
		v.peers[p.NodeID] = p
	}
	return nil
}

// snapshotVersion is the version Snapshot writes: 3 when a peer has a
// directory id, else SnapshotVersion (the bytes an older binary reads).
func (v *View) snapshotVersion() byte {
	for _, p := range v.peers {
		if !p.DirectoryID.IsZero() {
			return snapshotVersionPeerDirs
		}
	}
	return SnapshotVersion
}
