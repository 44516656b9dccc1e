package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/moldau/moldau/coordinator"
)

// Reset deletes every user topic and forgets every fetch session, then runs
// the registered reset hooks (groups, transactions), so that an embedded
// broker can be reused by the next test as if new. Internal topics
// (names starting with "__") are left to their owners' hooks.
func (b *Broker) Reset(ctx context.Context) error {
	var errs []error
	for _, t := range b.topics.all() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasPrefix(t.name, "__") {
			continue
		}
		if err := b.deleteTopic(t); err != nil && !errors.Is(err, errUnknownTopic) {
			errs = append(errs, err)
		}
	}
	b.sessions.clear()
	errs = append(errs, b.resetGroups())
	b.resetMu.Lock()
	hooks := append([]func(context.Context) error(nil), b.resetHooks...)
	b.resetMu.Unlock()
	for _, h := range hooks {
		errs = append(errs, h(ctx))
	}
	return errors.Join(errs...)
}

// resetGroups deletes every consumer group and its offsets. A group that
// still has members cannot be deleted (as with DeleteGroups): close its
// consumers before Reset.
func (b *Broker) resetGroups() error {
	if b.groups == nil {
		return nil
	}
	var errs []error
	for _, g := range b.groups.ListGroups() {
		if err := b.groups.DeleteGroup(g.Group); err != nil && !errors.Is(err, coordinator.ErrGroupIDNotFound) {
			errs = append(errs, fmt.Errorf("reset group %q: %w", g.Group, err))
		}
	}
	return errors.Join(errs...)
}

// onReset registers a hook that Reset runs after deleting the topics.
func (b *Broker) onReset(h func(context.Context) error) {
	b.resetMu.Lock()
	b.resetHooks = append(b.resetHooks, h)
	b.resetMu.Unlock()
}
