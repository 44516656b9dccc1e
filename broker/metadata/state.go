package metadata

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Rejections: a committed record that is not valid against the state it
// is applied to changes nothing and is reported with one of these (wrapped
// with details) in Result.Err. Every replica rejects the same records, so
// rejecting never makes replicas diverge.
var (
	ErrInvalidBroker            = errors.New("metadata: invalid broker registration")
	ErrUnknownBroker            = errors.New("metadata: unknown broker")
	ErrBrokerInUse              = errors.New("metadata: broker is a replica of a partition")
	ErrInvalidTopic             = errors.New("metadata: invalid topic name")
	ErrInvalidTopicID           = errors.New("metadata: invalid topic id")
	ErrTopicExists              = errors.New("metadata: topic already exists")
	ErrTopicIDExists            = errors.New("metadata: topic id already in use")
	ErrTopicCollision           = errors.New("metadata: topic name collides with an existing topic")
	ErrUnknownTopic             = errors.New("metadata: unknown topic id")
	ErrInvalidPartitions        = errors.New("metadata: invalid partitions")
	ErrInvalidReplicationFactor = errors.New("metadata: invalid replication factor")
	ErrInvalidReplicaAssignment = errors.New("metadata: invalid replica assignment")
	ErrInvalidConfig            = errors.New("metadata: invalid config")
	ErrStaleGroupID             = errors.New("metadata: group id below the counter")
	ErrStaleLeaderEpoch         = errors.New("metadata: leader epoch older than the current")
	ErrInvalidLeadership        = errors.New("metadata: invalid leadership change")
	ErrCorruptSnapshot          = errors.New("metadata: corrupt snapshot")
	ErrClusterIDSet             = errors.New("metadata: cluster id already set")
	ErrInvalidClusterID         = errors.New("metadata: invalid cluster id")
)

// FirstGroupID is the first Raft group id handed to a partition; group 0
// is the metadata group itself.
const FirstGroupID uint64 = 1

// Broker is a registered broker as the state holds it.
type Broker struct {
	NodeID      int32      `json:"node_id"`
	Incarnation UUID       `json:"incarnation"`
	Listeners   []Listener `json:"listeners"`
	Rack        string     `json:"rack,omitempty"`
	Fenced      bool       `json:"fenced"`
}

// Partition is one partition: assignment, Raft group and the leadership
// its group last reported (Leader -1 and LeaderEpoch -1 until then; the
// ISR starts as the replica list).
type Partition struct {
	Partition   int32   `json:"partition"`
	GroupID     uint64  `json:"group_id"`
	Replicas    []int32 `json:"replicas"`
	Leader      int32   `json:"leader"`
	LeaderEpoch int32   `json:"leader_epoch"`
	ISR         []int32 `json:"isr"`
	// Reassignment (reassign.go): the target replicas (nil: none in
	// progress) and the members of a superseded target that may still
	// be in the Raft configuration.
	Target    []int32 `json:"target,omitempty"`
	Lingering []int32 `json:"lingering,omitempty"`
}

// Topic is one topic. Partitions[i].Partition == i.
type Topic struct {
	Name       string            `json:"name"`
	ID         UUID              `json:"id"`
	Configs    map[string]string `json:"configs,omitempty"`
	Partitions []Partition       `json:"partitions"`
}

// Controller is the metadata group's leader as this node last learnt it
// from Raft (node id -1: none known). It is local knowledge, not part of
// the replicated state or its snapshots.
type Controller struct {
	NodeID int32
	Epoch  int32
}

// View is an immutable snapshot of the state, for lock-free reads. Every
// value it returns (brokers, topics, their slices and maps) is shared with
// other views and must not be modified by the caller.
type View struct {
	clusterID   string
	applied     uint64
	nextGroupID uint64
	brokers     map[int32]*Broker
	topics      map[string]*Topic
	byID        map[UUID]*Topic
	controller  Controller
	peers       map[int32]PeerInfo // peers.go
	entities    *entityState       // entities.go; nil: none ever
}

// ClusterID is the cluster's id ("" until a SetClusterID is applied).
func (v *View) ClusterID() string { return v.clusterID }

// Applied is the index of the last record applied (rejected ones included).
func (v *View) Applied() uint64 { return v.applied }

// NextGroupID is the lowest group id a new partition may get.
func (v *View) NextGroupID() uint64 { return v.nextGroupID }

// Controller is the metadata group's leader as last set by SetController.
func (v *View) Controller() Controller { return v.controller }

// Broker returns a registered broker.
func (v *View) Broker(id int32) (*Broker, bool) {
	b, ok := v.brokers[id]
	return b, ok
}

// Brokers returns every registered broker, by node id.
func (v *View) Brokers() []*Broker {
	out := make([]*Broker, 0, len(v.brokers))
	for _, b := range v.brokers {
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b *Broker) int { return int(a.NodeID) - int(b.NodeID) })
	return out
}

// Topic returns a topic by name.
func (v *View) Topic(name string) (*Topic, bool) {
	t, ok := v.topics[name]
	return t, ok
}

// TopicByID returns a topic by id.
func (v *View) TopicByID(id UUID) (*Topic, bool) {
	t, ok := v.byID[id]
	return t, ok
}

// Topics returns every topic, by name.
func (v *View) Topics() []*Topic {
	out := make([]*Topic, 0, len(v.topics))
	for _, t := range v.topics {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *Topic) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// GroupIDs returns n consecutive group ids starting at the counter, for a
// proposer to put in a CreateTopic or CreatePartitions record.
func (v *View) GroupIDs(n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = v.nextGroupID + uint64(i)
	}
	return out
}

func emptyView() *View {
	return &View{
		nextGroupID: FirstGroupID,
		brokers:     map[int32]*Broker{},
		topics:      map[string]*Topic{},
		byID:        map[UUID]*Topic{},
		controller:  Controller{NodeID: -1, Epoch: -1},
		peers:       map[int32]PeerInfo{},
	}
}

// clone is a shallow copy: the maps are new, the brokers and topics they
// point to are shared until replaced.
func (v *View) clone() *View {
	n := *v
	n.brokers = make(map[int32]*Broker, len(v.brokers))
	for k, b := range v.brokers {
		n.brokers[k] = b
	}
	n.topics = make(map[string]*Topic, len(v.topics))
	n.byID = make(map[UUID]*Topic, len(v.byID))
	for k, t := range v.topics {
		n.topics[k] = t
		n.byID[t.ID] = t
	}
	n.peers = make(map[int32]PeerInfo, len(v.peers))
	for k, a := range v.peers {
		n.peers[k] = a
	}
	return &n
}

func (v *View) putTopic(t *Topic) {
	v.topics[t.Name] = t
	v.byID[t.ID] = t
}

// Result is what applying one record did. Err is nil when the record was
// applied, or a rejection (errors.Is one of the Err* values above, or
// ErrCorruptRecord) when it changed nothing but the applied index.
type Result struct {
	Index   uint64
	Type    RecordType // 0 when the record did not decode
	Skipped bool       // index at or below the applied index: already applied
	Err     error
}

// State is the metadata state machine.
//
// Locking: mu serialises the writers (Apply, Restore, SetController);
// readers take View() without locking, from an atomic pointer that each
// write replaces with a new immutable View. Apply copies the broker and
// topic maps (pointers only) and the one topic or broker it changes, so a
// write costs O(topics + brokers + partitions of the changed topic); the
// entities are shared by pointer, and an entity change copies only the
// kind it changes (entities.go).
type State struct {
	mu   sync.Mutex
	view atomic.Pointer[View]
}

// New returns an empty state: no brokers, no topics, applied index 0.
func New() *State {
	s := &State{}
	s.view.Store(emptyView())
	return s
}

// View returns the current immutable view.
func (s *State) View() *View { return s.view.Load() }

// SetController records the metadata group's leader (from Raft's
// LeaderChanged). It is not replicated and not in snapshots.
func (s *State) SetController(nodeID, epoch int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := *s.view.Load() // the maps are shared, unchanged
	n.controller = Controller{NodeID: nodeID, Epoch: epoch}
	s.view.Store(&n)
}

// Apply applies the record committed at index. It never fails the state
// machine and never panics: a record that does not decode or is not valid
// against the current state is rejected (Result.Err) and changes nothing
// but the applied index, identically on every replica. An index at or
// below the applied index is skipped (Result.Skipped): entries
// re-delivered after a restart from an older applied index are harmless.
// An empty rec (Raft's empty entry) only advances the applied index.
func (s *State) Apply(index uint64, rec []byte) Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.view.Load()
	res := Result{Index: index}
	if index <= cur.applied {
		res.Skipped = true
		return res
	}
	next := cur.clone()
	next.applied = index
	if len(rec) > 0 {
		r, err := Decode(rec)
		if err == nil {
			res.Type = r.Type()
			err = next.apply(r)
		}
		if err != nil {
			// Discard the half-changed clone: the maps stay shared.
			res.Err = err
			n := *cur
			n.applied = index
			next = &n
		}
	}
	s.view.Store(next)
	return res
}

// apply changes v (a clone) by r, or returns a rejection; v may be left
// half changed on error (the caller discards it).
func (v *View) apply(r Record) error {
	switch r := r.(type) {
	case RegisterBroker:
		return v.registerBroker(r)
	case FenceBroker:
		return v.setFenced(r.NodeID, true)
	case UnfenceBroker:
		return v.setFenced(r.NodeID, false)
	case UnregisterBroker:
		return v.unregisterBroker(r.NodeID)
	case CreateTopic:
		return v.createTopic(r)
	case CreatePartitions:
		return v.createPartitions(r)
	case DeleteTopic:
		t, ok := v.byID[r.TopicID]
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnknownTopic, r.TopicID)
		}
		delete(v.topics, t.Name)
		delete(v.byID, t.ID)
		return nil
	case AlterTopicConfigs:
		t, ok := v.byID[r.TopicID]
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnknownTopic, r.TopicID)
		}
		if err := validateConfigs(r.Configs); err != nil {
			return err
		}
		nt := *t
		nt.Configs = cloneConfigs(r.Configs)
		v.putTopic(&nt)
		return nil
	case ChangePartitionLeadership:
		return v.changeLeadership(r)
	case AlterPartitionReassignments:
		return v.alterReassignments(r)
	case CompletePartitionReassignment:
		return v.completeReassignment(r)
	case PutEntities:
		return v.putEntities(r)
	case SetClusterID:
		if v.clusterID != "" {
			return fmt.Errorf("%w: the cluster id is %s already", ErrClusterIDSet, v.clusterID)
		}
		if r.ClusterID == "" || len(r.ClusterID) > 64 {
			return fmt.Errorf("%w: cluster id %q", ErrInvalidClusterID, r.ClusterID)
		}
		v.clusterID = r.ClusterID
		return nil
	case AdvanceGroupIDs:
		if r.Next < v.nextGroupID {
			return fmt.Errorf("%w: next %d below the counter %d", ErrStaleGroupID, r.Next, v.nextGroupID)
		}
		v.nextGroupID = r.Next
		return nil
	}
	if handled, err := v.applyPeer(r); handled {
		return err
	}
	return fmt.Errorf("%w: unhandled record %T", ErrCorruptRecord, r)
}

var securityProtocols = []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}

func validateBroker(nodeID int32, inc UUID, ls []Listener) error {
	if nodeID < 0 {
		return fmt.Errorf("%w: node id %d", ErrInvalidBroker, nodeID)
	}
	if inc.IsZero() {
		return fmt.Errorf("%w: node %d: zero incarnation", ErrInvalidBroker, nodeID)
	}
	if len(ls) == 0 {
		return fmt.Errorf("%w: node %d: no listeners", ErrInvalidBroker, nodeID)
	}
	for i, l := range ls {
		switch {
		case l.Name == "" || l.Host == "":
			return fmt.Errorf("%w: node %d: listener %d: empty name or host", ErrInvalidBroker, nodeID, i)
		case l.Port <= 0 || l.Port > 65535:
			return fmt.Errorf("%w: node %d: listener %s: port %d", ErrInvalidBroker, nodeID, l.Name, l.Port)
		case !slices.Contains(securityProtocols, l.SecurityProtocol):
			return fmt.Errorf("%w: node %d: listener %s: security protocol %q", ErrInvalidBroker, nodeID, l.Name, l.SecurityProtocol)
		}
		for _, o := range ls[:i] {
			if o.Name == l.Name {
				return fmt.Errorf("%w: node %d: listener %s twice", ErrInvalidBroker, nodeID, l.Name)
			}
		}
	}
	return nil
}

func (v *View) registerBroker(r RegisterBroker) error {
	if err := validateBroker(r.NodeID, r.Incarnation, r.Listeners); err != nil {
		return err
	}
	b := &Broker{NodeID: r.NodeID, Incarnation: r.Incarnation, Listeners: slices.Clone(r.Listeners), Rack: r.Rack, Fenced: true}
	if old, ok := v.brokers[r.NodeID]; ok && old.Incarnation == r.Incarnation {
		b.Fenced = old.Fenced
	}
	v.brokers[r.NodeID] = b
	return nil
}

func (v *View) setFenced(id int32, fenced bool) error {
	b, ok := v.brokers[id]
	if !ok {
		return fmt.Errorf("%w: %d", ErrUnknownBroker, id)
	}
	nb := *b
	nb.Fenced = fenced
	v.brokers[id] = &nb
	return nil
}

func (v *View) unregisterBroker(id int32) error {
	if _, ok := v.brokers[id]; !ok {
		return fmt.Errorf("%w: %d", ErrUnknownBroker, id)
	}
	for _, t := range v.Topics() {
		for _, p := range t.Partitions {
			if p.Hosts(id) {
				return fmt.Errorf("%w: %d holds %s-%d", ErrBrokerInUse, id, t.Name, p.Partition)
			}
		}
	}
	delete(v.brokers, id)
	return nil
}

// MaxTopicNameLength is Kafka's limit (249).
const MaxTopicNameLength = 249

// ValidateTopicName applies Kafka's rules: 1..249 characters of
// [a-zA-Z0-9._-], not "." or "..".
func ValidateTopicName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > MaxTopicNameLength {
		return fmt.Errorf("%w: %q", ErrInvalidTopic, name)
	}
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("%w: %q", ErrInvalidTopic, name)
		}
	}
	return nil
}

// collisionKey is a topic name with '.' replaced by '_': Kafka refuses a
// topic whose name differs from an existing one only there (their metric
// names would be the same).
func collisionKey(name string) string { return strings.ReplaceAll(name, ".", "_") }

// checkCollision refuses a new topic name that collides with an existing
// one (O(topics), only for names with '.' or '_').
func (v *View) checkCollision(name string) error {
	if !strings.ContainsAny(name, "._") {
		return nil
	}
	key := collisionKey(name)
	for other := range v.topics {
		if other != name && collisionKey(other) == key {
			return fmt.Errorf("%w: %s and %s", ErrTopicCollision, name, other)
		}
	}
	return nil
}

func validateConfigs(c map[string]string) error {
	for k := range c {
		if k == "" {
			return fmt.Errorf("%w: empty key", ErrInvalidConfig)
		}
	}
	return nil
}

func cloneConfigs(c map[string]string) map[string]string {
	if len(c) == 0 {
		return nil
	}
	n := make(map[string]string, len(c))
	for k, val := range c {
		n[k] = val
	}
	return n
}

// validateReplicas checks one partition's replica list against the
// registered brokers: rf entries, no duplicates.
func validateReplicas(brokers map[int32]*Broker, replicas []int32, rf int) error {
	if len(replicas) != rf {
		return fmt.Errorf("%w: %d replicas, want %d", ErrInvalidReplicaAssignment, len(replicas), rf)
	}
	for i, r := range replicas {
		if _, ok := brokers[r]; !ok {
			return fmt.Errorf("%w: broker %d is not registered", ErrInvalidReplicaAssignment, r)
		}
		if slices.Contains(replicas[:i], r) {
			return fmt.Errorf("%w: broker %d twice", ErrInvalidReplicaAssignment, r)
		}
	}
	return nil
}

// newPartitions validates parts as partitions start.. of a topic whose
// replication factor is rf (-1: taken from the first), hands their group
// ids out of the counter and returns them as state.
func (v *View) newPartitions(start int32, rf int, parts []PartitionAssignment) ([]Partition, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("%w: none", ErrInvalidPartitions)
	}
	if int64(start)+int64(len(parts)) > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d more after %d", ErrInvalidPartitions, len(parts), start)
	}
	if rf < 0 {
		rf = len(parts[0].Replicas)
		if rf < 1 || rf > math.MaxInt16 {
			return nil, fmt.Errorf("%w: %d", ErrInvalidReplicationFactor, rf)
		}
	}
	next := v.nextGroupID
	out := make([]Partition, len(parts))
	for i, p := range parts {
		if p.Partition != start+int32(i) {
			return nil, fmt.Errorf("%w: partition %d where %d is next", ErrInvalidPartitions, p.Partition, start+int32(i))
		}
		if err := validateReplicas(v.brokers, p.Replicas, rf); err != nil {
			return nil, fmt.Errorf("partition %d: %w", p.Partition, err)
		}
		if p.GroupID < next || p.GroupID == math.MaxUint64 {
			return nil, fmt.Errorf("%w: partition %d: group id %d, lowest free %d", ErrStaleGroupID, p.Partition, p.GroupID, next)
		}
		next = p.GroupID + 1
		out[i] = Partition{
			Partition: p.Partition, GroupID: p.GroupID,
			Replicas: slices.Clone(p.Replicas), ISR: slices.Clone(p.Replicas),
			Leader: -1, LeaderEpoch: -1,
		}
	}
	v.nextGroupID = next
	return out, nil
}

func (v *View) createTopic(r CreateTopic) error {
	if err := ValidateTopicName(r.Name); err != nil {
		return err
	}
	if _, ok := v.topics[r.Name]; ok {
		return fmt.Errorf("%w: %s", ErrTopicExists, r.Name)
	}
	if err := v.checkCollision(r.Name); err != nil {
		return err
	}
	if r.TopicID.IsZero() {
		return fmt.Errorf("%w: zero", ErrInvalidTopicID)
	}
	if _, ok := v.byID[r.TopicID]; ok {
		return fmt.Errorf("%w: %s", ErrTopicIDExists, r.TopicID)
	}
	if err := validateConfigs(r.Configs); err != nil {
		return err
	}
	parts, err := v.newPartitions(0, -1, r.Partitions)
	if err != nil {
		return err
	}
	v.putTopic(&Topic{Name: r.Name, ID: r.TopicID, Configs: cloneConfigs(r.Configs), Partitions: parts})
	return nil
}

func (v *View) createPartitions(r CreatePartitions) error {
	t, ok := v.byID[r.TopicID]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, r.TopicID)
	}
	parts, err := v.newPartitions(int32(len(t.Partitions)), len(t.Partitions[0].Replicas), r.Partitions)
	if err != nil {
		return err
	}
	nt := *t
	nt.Partitions = slices.Concat(t.Partitions, parts)
	v.putTopic(&nt)
	return nil
}

// validateLeadership checks a partition's leader and ISR against its
// replicas: leader -1 or a replica in the ISR, ISR a duplicate-free subset
// of the replicas, epoch -1 or above.
func validateLeadership(replicas []int32, leader, epoch int32, isr []int32) error {
	if epoch < -1 {
		return fmt.Errorf("%w: epoch %d", ErrInvalidLeadership, epoch)
	}
	for i, r := range isr {
		if !slices.Contains(replicas, r) || slices.Contains(isr[:i], r) {
			return fmt.Errorf("%w: ISR %v of replicas %v", ErrInvalidLeadership, isr, replicas)
		}
	}
	if leader != -1 && !slices.Contains(isr, leader) {
		return fmt.Errorf("%w: leader %d not in ISR %v", ErrInvalidLeadership, leader, isr)
	}
	return nil
}

func (v *View) changeLeadership(r ChangePartitionLeadership) error {
	t, ok := v.byID[r.TopicID]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, r.TopicID)
	}
	if len(r.Partitions) == 0 {
		return fmt.Errorf("%w: no partitions", ErrInvalidLeadership)
	}
	nt := *t
	nt.Partitions = slices.Clone(t.Partitions)
	seen := map[int32]bool{}
	for _, c := range r.Partitions {
		if c.Partition < 0 || int(c.Partition) >= len(nt.Partitions) {
			return fmt.Errorf("%w: %s has no partition %d", ErrInvalidLeadership, t.Name, c.Partition)
		}
		if seen[c.Partition] {
			return fmt.Errorf("%w: partition %d reported twice", ErrInvalidLeadership, c.Partition)
		}
		seen[c.Partition] = true
		p := &nt.Partitions[c.Partition]
		if err := validateLeadership(p.members(), c.Leader, c.LeaderEpoch, c.ISR); err != nil {
			return fmt.Errorf("partition %d: %w", c.Partition, err)
		}
		if c.LeaderEpoch < p.LeaderEpoch {
			return fmt.Errorf("%w: partition %d: epoch %d, current %d", ErrStaleLeaderEpoch, c.Partition, c.LeaderEpoch, p.LeaderEpoch)
		}
		if c.LeaderEpoch == p.LeaderEpoch && p.Leader != -1 && c.Leader != -1 && c.Leader != p.Leader {
			return fmt.Errorf("%w: partition %d: leader %d in epoch %d, where %d leads", ErrInvalidLeadership, c.Partition, c.Leader, c.LeaderEpoch, p.Leader)
		}
		p.Leader, p.LeaderEpoch, p.ISR = c.Leader, c.LeaderEpoch, slices.Clone(c.ISR)
	}
	v.putTopic(&nt)
	return nil
}
