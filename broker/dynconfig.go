package broker

// Dynamic configs: the BROKER configs set through AlterConfigs and
// IncrementalAlterConfigs (per broker and as the cluster-wide default) and
// the GROUP configs (KIP-848's group configs), kept in the entity store
// (kinds entityBrokerConfig and entityGroupConfig, values in FORMAT.md:
// "Dynamic config entities") and applied where Moldau uses them.
//
// The effective broker configuration is an immutable config.Config behind
// an atomic pointer (dynState.eff): readers (topic creation and config
// resolution, DescribeConfigs, groupSettings) load it without a lock; the
// data paths never read it at all, since each topic's resolved settings
// (topicState) are themselves a snapshot, re-resolved when the effective
// configuration changes.
//
// Locking: dynState.mu serialises refreshDynamicConfig (rebuilding eff from
// the entities and re-resolving every topic) and the read-modify-write of
// an alter on this broker; it is taken before topics.adminMu, never after.
// groupMu serialises rebuilding the group settings snapshot.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moldau/moldau/broker/config"
)

// dynState is the broker's dynamic config state.
type dynState struct {
	mu  sync.Mutex
	eff atomic.Pointer[config.Config]
	// brokerRaw, defaultRaw: the entity values eff was built from.
	brokerRaw, defaultRaw []byte

	groupMu sync.Mutex
	groups  atomic.Pointer[groupSettingsSnapshot]
}

// errDynamicConfigValue is a stored dynamic config value that does not decode.
var errDynamicConfigValue = errors.New("broker: corrupt dynamic config value")

// dynamicConfigVersion is the version byte of a dynamic config entity value.
const dynamicConfigVersion = 0

// encodeConfigMap encodes one resource's configs (FORMAT.md, "Dynamic
// config entities"): the version byte 0, a uvarint count, then per config,
// sorted by name, the uvarint length and bytes of the name, then of the
// value.
func encodeConfigMap(m map[string]string) []byte {
	out := []byte{dynamicConfigVersion}
	out = binary.AppendUvarint(out, uint64(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = binary.AppendUvarint(out, uint64(len(k)))
		out = append(out, k...)
		out = binary.AppendUvarint(out, uint64(len(m[k])))
		out = append(out, m[k]...)
	}
	return out
}

// decodeConfigMap decodes encodeConfigMap's output; nil or empty input is
// the empty map.
func decodeConfigMap(b []byte) (map[string]string, error) {
	m := map[string]string{}
	if len(b) == 0 {
		return m, nil
	}
	if b[0] != dynamicConfigVersion {
		return nil, fmt.Errorf("%w: version %d", errDynamicConfigValue, b[0])
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: bad count", errDynamicConfigValue)
	}
	b = b[k:]
	str := func() (string, error) {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return "", fmt.Errorf("%w: truncated", errDynamicConfigValue)
		}
		s := string(b[k : k+int(l)])
		b = b[k+int(l):]
		return s, nil
	}
	for i := uint64(0); i < n; i++ {
		key, err := str()
		if err != nil {
			return nil, err
		}
		v, err := str()
		if err != nil {
			return nil, err
		}
		m[key] = v
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errDynamicConfigValue, len(b))
	}
	return m, nil
}

// config returns the effective broker configuration: the static one with
// the dynamic BROKER configs laid over. Never nil; do not modify.
func (b *Broker) config() *config.Config {
	if c := b.dyn.eff.Load(); c != nil {
		return c
	}
	return &b.cfg
}

// storedConfigMap reads one resource's configs from the entity store; a
// value that does not decode is logged and read as empty.
func (b *Broker) storedConfigMap(kind, key string) (map[string]string, []byte) {
	raw, _ := b.entities.Get(kind, key)
	m, err := decodeConfigMap(raw)
	if err != nil {
		b.logger.Error("dynamic configs ignored", "kind", kind, "key", key, "err", err)
		return map[string]string{}, raw
	}
	return m, raw
}

// refreshDynamicConfig rebuilds the effective configuration if this
// broker's or the cluster default's dynamic configs changed in the entity
// store, and then re-resolves every topic's settings and hands the
// partition logs their new log configs (retention, segment, flush ...).
// Called after a local alter, at start, and by the watcher that follows
// the changes other brokers make (cluster mode).
func (b *Broker) refreshDynamicConfig() {
	b.dyn.mu.Lock()
	defer b.dyn.mu.Unlock()
	self := strconv.Itoa(int(b.cfg.NodeID))
	brokerCfg, brokerRaw := b.storedConfigMap(entityBrokerConfig, self)
	defaultCfg, defaultRaw := b.storedConfigMap(entityBrokerConfig, "")
	if b.dyn.eff.Load() != nil && bytes.Equal(brokerRaw, b.dyn.brokerRaw) && bytes.Equal(defaultRaw, b.dyn.defaultRaw) {
		return
	}
	eff, ignored := b.cfg.WithDynamic(config.Dynamic{Broker: brokerCfg, Default: defaultCfg})
	if len(ignored) > 0 {
		b.logger.Warn("dynamic broker configs that do not validate are ignored", "configs", ignored)
	}
	had := len(b.dyn.brokerRaw)+len(b.dyn.defaultRaw) > 0
	b.dyn.brokerRaw, b.dyn.defaultRaw = slices.Clone(brokerRaw), slices.Clone(defaultRaw)
	b.topics.adminMu.Lock()
	defer b.topics.adminMu.Unlock()
	b.dyn.eff.Store(&eff)
	for _, t := range b.topics.all() {
		t.setConfigs(t.state.Load().overrides, eff)
		lc := t.logConfig()
		lc.Replicated = b.raft != nil
		for _, p := range t.partitionList() {
			if p != nil {
				p.setLogConfig(lc)
			}
		}
	}
	if had || len(brokerCfg)+len(defaultCfg) > 0 {
		b.logger.Info("dynamic broker configs applied", "broker", len(brokerCfg), "default", len(defaultCfg))
	}
}

// dynamicConfigWatchInterval is how often a cluster node looks for dynamic
// config changes other brokers committed (one atomic load when none).
const dynamicConfigWatchInterval = 250 * time.Millisecond

// watchDynamicConfig follows the entity store until the broker stops
// (cluster mode: the metadata log brings other brokers' changes).
func (b *Broker) watchDynamicConfig() {
	tick := time.NewTicker(dynamicConfigWatchInterval)
	defer tick.Stop()
	// 0, not the current version: the metadata log may have been replayed
	// between New's refresh and now, so the first tick always looks.
	var seen uint64
	for {
		select {
		case <-b.stop:
			return
		case <-tick.C:
			if v := b.entities.Version(); v != seen {
				seen = v
				b.refreshDynamicConfig()
			}
		}
	}
}

// wireError is an error whose message is Kafka's, sent as is; errors.Is
// matches kind, from which the error code derives.
type wireError struct {
	kind error
	msg  string
}

func (e *wireError) Error() string { return e.msg }
func (e *wireError) Unwrap() error { return e.kind }

func invalidRequest(msg string) error { return &wireError{kind: errInvalidRequest, msg: msg} }

// checkAlterBrokerResource checks that a BROKER resource of an alter names
// this node, with Kafka's messages (ConfigAdminManager).
func (b *Broker) checkAlterBrokerResource(name string) error {
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil {
		return invalidRequest("Node id must be an integer, but it is: " + name)
	}
	if int32(id) != b.cfg.NodeID {
		return invalidRequest(fmt.Sprintf("Unexpected broker id, expected %d, but received %s", b.cfg.NodeID, name))
	}
	return nil
}

// alterBrokerConfigs replaces the dynamic configs of BROKER resource
// (this node's id, or "" for the cluster default) with what change makes
// of a copy of the current ones, after validating the whole new set with
// Kafka's rules; then, unless validateOnly, stores them (durable, and in a
// cluster committed to the metadata log, on return) and applies them here.
// Other brokers apply them from the metadata log (watchDynamicConfig).
func (b *Broker) alterBrokerConfigs(ctx context.Context, resource string, change func(cur map[string]string) (map[string]string, error), validateOnly bool) error {
	perBroker := resource != ""
	if perBroker {
		if err := b.checkAlterBrokerResource(resource); err != nil {
			return err
		}
	}
	b.dyn.mu.Lock()
	cur, _ := b.storedConfigMap(entityBrokerConfig, resource)
	next, err := change(maps.Clone(cur))
	if err == nil {
		err = b.config().ValidateDynamicBrokerConfigs(next, perBroker)
	}
	var dce *config.DynamicConfigError
	if errors.As(err, &dce) {
		err = invalidRequest(dce.Msg)
	}
	if err != nil || validateOnly || maps.Equal(cur, next) {
		b.dyn.mu.Unlock()
		return err
	}
	if len(next) == 0 {
		err = b.entities.Apply(ctx, entityBrokerConfig, nil, []string{resource})
	} else {
		err = b.entities.Apply(ctx, entityBrokerConfig, []Entity{{Key: resource, Value: encodeConfigMap(next)}}, nil)
	}
	b.dyn.mu.Unlock()
	if err != nil {
		return err
	}
	b.logger.Info("dynamic broker configs altered", "resource", resource, "configs", len(next))
	b.refreshDynamicConfig()
	return nil
}

// alterGroupConfigs replaces the GROUP configs of group with what change
// makes of a copy of the current ones, after validating the whole new set
// as Kafka does; then, unless validateOnly, stores them. groupSettings sees
// them at the group's next request.
func (b *Broker) alterGroupConfigs(ctx context.Context, group string, change func(cur map[string]string) (map[string]string, error), validateOnly bool) error {
	if group == "" {
		return invalidRequest("Default group resources are not allowed.")
	}
	b.dyn.mu.Lock()
	defer b.dyn.mu.Unlock()
	cur, _ := b.storedConfigMap(entityGroupConfig, group)
	next, err := change(maps.Clone(cur))
	if err != nil {
		return err
	}
	if err := b.config().ValidateGroupConfigs(next); err != nil {
		return err
	}
	if validateOnly || maps.Equal(cur, next) {
		return nil
	}
	if len(next) == 0 {
		err = b.entities.Apply(ctx, entityGroupConfig, nil, []string{group})
	} else {
		err = b.entities.Apply(ctx, entityGroupConfig, []Entity{{Key: group, Value: encodeConfigMap(next)}}, nil)
	}
	if err == nil {
		b.logger.Info("group configs altered", "group", group, "configs", len(next))
	}
	return err
}

// describeBrokerConfigs serves DescribeConfigs on BROKER resources.
func (b *Broker) describeBrokerConfigs(name string, keys []string, synonyms, docs bool) ([]config.ConfigEntry, error) {
	if name == "" {
		return b.config().DescribeDefaultBrokerConfigs(keys, synonyms, docs), nil
	}
	if err := b.checkBrokerResource(name); err != nil {
		return nil, err
	}
	return b.config().DescribeBrokerConfigs(keys, synonyms, docs), nil
}

// describeGroupConfigs serves DescribeConfigs on GROUP resources: every
// group may be described, whether it exists or not, as in Kafka.
func (b *Broker) describeGroupConfigs(group string, keys []string, synonyms, docs bool) ([]config.ConfigEntry, error) {
	if group == "" {
		return nil, invalidRequest("Group name must not be empty")
	}
	m, _ := b.storedConfigMap(entityGroupConfig, group)
	return b.config().DescribeGroupConfigs(m, keys, synonyms, docs), nil
}
