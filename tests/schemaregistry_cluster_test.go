package tests

// The built-in schema registry in a three-process cluster (issue #18): every
// node serves the registry over the one replicated _schemas topic
// (broker/schemareg/FORMAT.md's write protocol). TestSchemaRegistryCluster
// drives Confluent's REST API with plain net/http and checks that
//
//   - a schema registered on one node is read by id and by subject/version
//     on the others;
//   - registrations racing through two nodes (own subjects, one shared
//     subject getting new schemas from one node and schemas known under
//     other subjects from the other, one schema registered on both at
//     once; repeated until a write
//     lost its offset and was retried) all succeed and every
//     node gives the same subject/version -> id -> schema mapping, with
//     contiguous versions, one id per schema text and one text per id;
//   - after kill -9 of _schemas-0's leader, a survivor registers (once a new
//     leader serves) and the other survivor reads it;
//   - the killed node, restarted, converges to the same subjects and ids,
//     and a registration through it gets a new id;
//   - a topic with confluent.value.schema.validation=true (RF 3) accepts a
//     record framed with an id registered under <topic>-value on every
//     partition and refuses, with INVALID_RECORD, an unknown id and an id
//     registered only under another subject.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/broker/schemareg"
	"github.com/moldau/moldau/internal/testenv"
)

// srHTTP is the client of every registry request; its timeout bounds one
// request (a registration waiting for a new _schemas leader included).
var srHTTP = &http.Client{Timeout: 20 * time.Second}

// srCall sends one request to a registry and returns the status and body.
func srCall(method, url, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	}
	resp, err := srHTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// srRegister registers an Avro schema under subject and returns its id;
// any answer but 200 {"id":N} is an error.
func srRegister(url, subject, schema string) (int, error) {
	body, _ := json.Marshal(map[string]string{"schema": schema})
	st, b, err := srCall(http.MethodPost, url+"/subjects/"+subject+"/versions", string(body))
	if err != nil {
		return 0, err
	}
	var r struct {
		ID *int `json:"id"`
	}
	if st != http.StatusOK || json.Unmarshal(b, &r) != nil || r.ID == nil {
		return 0, fmt.Errorf("register under %s at %s: %d %s", subject, url, st, b)
	}
	return *r.ID, nil
}

// srGetJSON GETs url and decodes a 200 answer into out.
func srGetJSON(url string, out any) error {
	st, b, err := srCall(http.MethodGet, url, "")
	if err != nil {
		return err
	}
	if st != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", url, st, b)
	}
	return json.Unmarshal(b, out)
}

// srVersion is one subject version as GET /subjects/{s}/versions/{v} gives it.
type srVersion struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
	ID      int    `json:"id"`
	Schema  string `json:"schema"`
}

// srView is everything one registry serves: each subject's versions in
// order, and each id's schema text (GET /schemas/ids/{id}).
type srView struct {
	Subjects map[string][]srVersion
	IDs      map[int]string
}

// srSnapshot reads a registry's whole view: GET /subjects, then every
// subject's versions, then /schemas/ids/{id} of every id they use.
func srSnapshot(url string) (srView, error) {
	v := srView{Subjects: map[string][]srVersion{}, IDs: map[int]string{}}
	var subjects []string
	if err := srGetJSON(url+"/subjects", &subjects); err != nil {
		return v, err
	}
	for _, s := range subjects {
		var versions []int
		if err := srGetJSON(url+"/subjects/"+s+"/versions", &versions); err != nil {
			return v, err
		}
		for _, n := range versions {
			var sv srVersion
			if err := srGetJSON(fmt.Sprintf("%s/subjects/%s/versions/%d", url, s, n), &sv); err != nil {
				return v, err
			}
			v.Subjects[s] = append(v.Subjects[s], sv)
			if _, ok := v.IDs[sv.ID]; !ok {
				var byID struct {
					Schema string `json:"schema"`
				}
				if err := srGetJSON(fmt.Sprintf("%s/schemas/ids/%d", url, sv.ID), &byID); err != nil {
					return v, err
				}
				v.IDs[sv.ID] = byID.Schema
			}
		}
	}
	return v, nil
}

// srViewProblems lists what is wrong within one view: a subject's versions
// not 1..n (nothing is deleted in this test) or not echoing the subject, a
// version's schema differing from its id's, two texts sharing an id (that
// is the map) or one text under two ids.
func srViewProblems(v srView) []string {
	var out []string
	for s, vs := range v.Subjects {
		for i, sv := range vs {
			if sv.Version != i+1 || sv.Subject != s {
				out = append(out, fmt.Sprintf("%s: entry %d is %s version %d", s, i, sv.Subject, sv.Version))
			}
			if v.IDs[sv.ID] != sv.Schema {
				out = append(out, fmt.Sprintf("%s version %d: id %d, schema %q, but /schemas/ids/%d gives %q", s, sv.Version, sv.ID, sv.Schema, sv.ID, v.IDs[sv.ID]))
			}
		}
	}
	byText := map[string]int{}
	for id, text := range v.IDs {
		if other, ok := byText[text]; ok {
			out = append(out, fmt.Sprintf("ids %d and %d have the same schema %q", min(id, other), max(id, other), text))
		}
		byText[text] = id
	}
	slices.Sort(out)
	return out
}

// srViewDiff describes how b differs from a ("" if not at all).
func srViewDiff(a, b srView) string {
	var out []string
	for _, s := range slices.Sorted(maps.Keys(a.Subjects)) {
		if !slices.Equal(a.Subjects[s], b.Subjects[s]) {
			out = append(out, fmt.Sprintf("subject %s: %+v vs %+v", s, a.Subjects[s], b.Subjects[s]))
		}
	}
	for s := range b.Subjects {
		if _, ok := a.Subjects[s]; !ok {
			out = append(out, fmt.Sprintf("subject %s only in the second: %+v", s, b.Subjects[s]))
		}
	}
	if !maps.Equal(a.IDs, b.IDs) {
		out = append(out, fmt.Sprintf("ids %v vs %v", slices.Sorted(maps.Keys(a.IDs)), slices.Sorted(maps.Keys(b.IDs))))
	}
	return strings.Join(out, "\n")
}

// srAvro is an Avro record schema named name with the given long fields,
// all but the first optional with a default (so each is BACKWARD
// compatible with the ones with fewer fields).
func srAvro(name string, fields ...string) string {
	var fs []string
	for i, f := range fields {
		if i == 0 {
			fs = append(fs, fmt.Sprintf(`{"name":%q,"type":"long"}`, f))
		} else {
			fs = append(fs, fmt.Sprintf(`{"name":%q,"type":["null","long"],"default":null}`, f))
		}
	}
	return fmt.Sprintf(`{"type":"record","name":%q,"fields":[%s]}`, name, strings.Join(fs, ","))
}

// srRegistered is one successful registration.
type srRegistered struct {
	node    int
	subject string
	schema  string
	id      int
}

func TestSchemaRegistryCluster(t *testing.T) {
	began := time.Now()
	lap := began
	timing := func(what string) {
		t.Logf("%-60s %6v (total %v)", what, time.Since(lap).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
		lap = time.Now()
	}
	srAddr, adminAddr := map[int]string{}, map[int]string{}
	for id := 1; id <= 3; id++ {
		srAddr[id], adminAddr[id] = freeAddr(t, id), freeAddr(t, id)
	}
	c := startProcCluster(t, func(id int) []string {
		return []string{"--schema-registry-addr", srAddr[id], "--admin-addr", adminAddr[id]}
	})
	url := func(id int) string { return "http://" + srAddr[id] }
	for id := 1; id <= 3; id++ {
		c.waitFor(30*time.Second, fmt.Sprintf("node %d's registry answering GET /subjects", id), func() bool {
			st, _, err := srCall(http.MethodGet, url(id)+"/subjects", "")
			return err == nil && st == http.StatusOK
		})
	}
	timing("cluster and three registries up")

	// 1. Register on node 1 (the first write creates _schemas with RF 3),
	// read it on nodes 2 and 3 by id and by subject/version.
	orders := srAvro("Order", "id")
	id1, _, _ := srRegisterWithin(t, 30*time.Second, url(1), "orders-value", orders)
	timing("first registration on node 1")
	for _, id := range []int{2, 3} {
		c.waitFor(10*time.Second, fmt.Sprintf("node %d serving schema %d and orders-value/1", id, id1), func() bool {
			var byID struct {
				Schema string `json:"schema"`
			}
			var sv srVersion
			return srGetJSON(fmt.Sprintf("%s/schemas/ids/%d", url(id), id1), &byID) == nil &&
				srGetJSON(url(id)+"/subjects/orders-value/versions/1", &sv) == nil &&
				sv.ID == id1 && sv.Schema == byID.Schema && sv.Version == 1 && sv.Subject == "orders-value"
		})
	}
	timing("read on nodes 2 and 3")

	// 2. Concurrent registrations through nodes 2 and 3.
	if st, b, err := srCall(http.MethodPut, url(1)+"/config/shared-value", `{"compatibility":"NONE"}`); err != nil || st != http.StatusOK {
		t.Fatalf("PUT /config/shared-value: %d %s %v", st, b, err)
	}
	const versions = 5
	var (
		mu   sync.Mutex
		regs []srRegistered
		errs []error
		wg   sync.WaitGroup
	)
	register := func(node int, subject, schema string) {
		id, err := srRegister(url(node), subject, schema)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("node %d: %w", node, err))
			return
		}
		regs = append(regs, srRegistered{node, subject, schema, id})
	}
	// Rounds until at least one write lost its offset to the other node
	// and was retried (the protocol's race path; 2-10 per round here).
	raceStart := time.Now()
	fields := map[string][]string{} // own subject -> its fields so far
	conflicts, rounds := 0, 0
	for rounds < 5 && conflicts == 0 {
		r := rounds
		rounds++
		// Schemas node 3 adds to shared-value, known already under other
		// subjects: their records keep their ids, so if a lost one were
		// applied (FORMAT.md rule 1) it would replace node 2's version
		// instead of being refused as a duplicate id.
		var known []string
		for v := range versions {
			known = append(known, srAvro("Known", fmt.Sprintf("k%d_%d", r, v)))
			register(1, fmt.Sprintf("known%d-%d-value", r, v), known[v])
		}
		for _, node := range []int{2, 3} {
			for _, sub := range []string{"a", "b"} {
				subject := fmt.Sprintf("n%d-%s-value", node, sub)
				var schemas []string // each adds an optional field to the one before
				for v := range versions {
					fields[subject] = append(fields[subject], fmt.Sprintf("f%d_%d", r, v))
					schemas = append(schemas, srAvro(fmt.Sprintf("N%d%s", node, sub), fields[subject]...))
				}
				wg.Add(1)
				go func() { // own subjects: versions in order
					defer wg.Done()
					for _, schema := range schemas {
						register(node, subject, schema)
					}
				}()
			}
			wg.Add(1)
			go func() { // one subject both nodes add versions to
				defer wg.Done()
				for v := range versions {
					if node == 2 {
						register(node, "shared-value", srAvro("Shared", fmt.Sprintf("n%d_%d_%d", node, r, v)))
					} else {
						register(node, "shared-value", known[v])
					}
				}
			}()
			wg.Add(1)
			go func() { // the same schema under the same new subject at once
				defer wg.Done()
				register(node, fmt.Sprintf("same%d-value", r), srAvro("Same", fmt.Sprintf("x%d", r)))
			}()
		}
		wg.Wait()
		conflicts = 0
		for _, id := range []int{2, 3} {
			conflicts += srWriteConflicts(t, adminAddr[id])
		}
	}
	raceTook := time.Since(raceStart)
	if conflicts == 0 {
		t.Errorf("%d rounds of concurrent registrations through nodes 2 and 3 and no write lost its offset: the race path was not exercised", rounds)
	}
	for _, err := range errs {
		t.Errorf("concurrent registration failed: %v", err)
	}
	if t.Failed() {
		t.FailNow()
	}
	// Distinct texts got distinct ids, the same text the same id.
	idOf := map[string]int{orders: id1}
	textOf := map[int]string{id1: orders}
	for _, r := range regs {
		if id, ok := idOf[r.schema]; ok && id != r.id {
			t.Errorf("schema %s got ids %d and %d", r.schema, id, r.id)
		}
		if text, ok := textOf[r.id]; ok && text != r.schema {
			t.Errorf("id %d given to two schemas: %s and %s", r.id, text, r.schema)
		}
		idOf[r.schema], textOf[r.id] = r.id, r.schema
	}
	t.Logf("%d concurrent registrations through nodes 2 and 3 in %d round(s), %v, %d distinct ids, %d writes that lost their offset and were retried", len(regs), rounds, raceTook.Round(time.Millisecond), len(textOf), conflicts)
	view := c.srAgree(t, []int{1, 2, 3}, url, "after the concurrent registrations")
	wantSubjects := map[string]int{"orders-value": 1, "shared-value": 2 * versions * rounds,
		"n2-a-value": versions * rounds, "n2-b-value": versions * rounds, "n3-a-value": versions * rounds, "n3-b-value": versions * rounds}
	for r := range rounds {
		wantSubjects[fmt.Sprintf("same%d-value", r)] = 1
		for v := range versions {
			wantSubjects[fmt.Sprintf("known%d-%d-value", r, v)] = 1
		}
	}
	for s, n := range wantSubjects {
		if len(view.Subjects[s]) != n {
			t.Errorf("subject %s has %d versions, want %d: %+v", s, len(view.Subjects[s]), n, view.Subjects[s])
		}
	}
	if len(view.Subjects) != len(wantSubjects) {
		t.Errorf("subjects %v, want %v", slices.Sorted(maps.Keys(view.Subjects)), slices.Sorted(maps.Keys(wantSubjects)))
	}
	for _, r := range regs { // each registration's id is at a version of its subject holding its schema
		if !slices.ContainsFunc(view.Subjects[r.subject], func(sv srVersion) bool { return sv.ID == r.id }) {
			t.Errorf("node %d registered id %d under %s, which no version of it has: %+v", r.node, r.id, r.subject, view.Subjects[r.subject])
		}
	}
	if len(view.IDs) != len(textOf) {
		t.Errorf("the registries serve %d ids, the registrations returned %d", len(view.IDs), len(textOf))
	}
	timing("concurrent registrations, all three agree")

	// 3. kill -9 the leader of _schemas-0; a survivor registers, the other reads.
	cl := c.client()
	p0, ok := c.leaderView(cl, schemareg.Topic)[0]
	if !ok {
		t.Fatalf("no leader of %s-0", schemareg.Topic)
	}
	if len(p0.ISR) != 3 {
		t.Fatalf("%s-0 has ISR %v, want three replicas", schemareg.Topic, p0.ISR)
	}
	victim := c.node(p0.Leader)
	var survivors []int
	for id := 1; id <= 3; id++ {
		if id != victim.id {
			survivors = append(survivors, id)
		}
	}
	victim.kill9()
	killed := time.Now()
	timing(fmt.Sprintf("killed node %d, leader of %s-0 (epoch %d)", victim.id, schemareg.Topic, p0.LeaderEpoch))
	after := srAvro("AfterKill", "k")
	idAfter, attempts, lastErr := srRegisterWithin(t, 40*time.Second, url(survivors[0]), "after-kill-value", after)
	t.Logf("registered through node %d %v after the kill (%d attempts; last refusal: %v)", survivors[0], time.Since(killed).Round(time.Millisecond), attempts, lastErr)
	if _, ok := textOf[idAfter]; ok {
		t.Errorf("after the kill, id %d was given again (it is %s)", idAfter, textOf[idAfter])
	}
	textOf[idAfter] = after
	c.waitFor(10*time.Second, fmt.Sprintf("node %d serving id %d", survivors[1], idAfter), func() bool {
		var sv srVersion
		return srGetJSON(url(survivors[1])+"/subjects/after-kill-value/versions/1", &sv) == nil && sv.ID == idAfter
	})
	timing("registered and read on the survivors")
	view = c.srAgree(t, survivors, url, "after the kill")

	// 4. The killed node restarts and converges.
	victim.start()
	restarted := time.Now()
	// Its first answers already come from a caught-up state (as
	// Confluent's, which reads _schemas to its end before it serves, and
	// readBarrier promises): a 200 with fewer subjects, or a 404 for an id
	// registered before, would make a deserializer fail.
	var first []string
	c.waitFor(30*time.Second, fmt.Sprintf("node %d's registry answering GET /subjects", victim.id), func() bool {
		return srGetJSON(url(victim.id)+"/subjects", &first) == nil
	})
	if len(first) < len(view.Subjects) {
		t.Errorf("the restarted node %d's first GET /subjects answer (%v after its start) lists %d subjects, the survivors %d: %v",
			victim.id, time.Since(restarted).Round(time.Millisecond), len(first), len(view.Subjects), first)
	}
	// At once (no wait for it to catch up): the restarted node registers.
	// Its write protocol reads _schemas to the leader's end first, so the id
	// is past everything written while it was down (after-kill-value).
	restartSchema := srAvro("AfterRestart", "r")
	idRestart, attempts, lastErr := srRegisterWithin(t, 30*time.Second, url(victim.id), "after-restart-value", restartSchema)
	t.Logf("registered through the restarted node %d %v after its restart (%d attempts; last refusal: %v)", victim.id, time.Since(restarted).Round(time.Millisecond), attempts, lastErr)
	if text, ok := view.IDs[idRestart]; ok {
		t.Errorf("the restarted node %d gave id %d again (it is %s)", victim.id, idRestart, text)
	}
	textOf[idRestart] = restartSchema
	var diff string
	c.waitFor(30*time.Second, fmt.Sprintf("node %d's registry serving node %d's view", victim.id, survivors[0]), func() bool {
		want, err := srSnapshot(url(survivors[0]))
		if err != nil {
			diff = err.Error()
			return false
		}
		got, err := srSnapshot(url(victim.id))
		if err != nil {
			diff = err.Error()
			return false
		}
		diff = srViewDiff(want, got)
		return diff == "" && len(got.IDs) == len(view.IDs)+1
	})
	t.Logf("node %d served the survivors' subjects and ids %v after its restart", victim.id, time.Since(restarted).Round(time.Millisecond))
	timing("restarted node registered and converged")
	view = c.srAgree(t, []int{1, 2, 3}, url, "after the restart")
	// Every id registered serves the schema registered under it.
	if len(view.IDs) != len(textOf) {
		t.Errorf("the registries serve %d ids, %d were registered", len(view.IDs), len(textOf))
	}
	for id, text := range textOf {
		if !srSameJSON(text, view.IDs[id]) {
			t.Errorf("id %d: registered %s, served %s", id, text, view.IDs[id])
		}
	}

	// 5. Produce-side validation on an RF 3 topic.
	const topic, parts = "sr-validated", 3
	resp, err := c.admin().CreateTopics(ctxT(t), parts, 3, map[string]*string{
		"min.insync.replicas": strp("2"), "confluent.value.schema.validation": strp("true"),
	}, topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	c.waitFullISR(topic, parts, "validated topic")
	valID, err := srRegister(url(survivors[1]), topic+"-value", srAvro("Validated", "v"))
	if err != nil {
		t.Fatal(err)
	}
	frame := func(id int, payload string) []byte {
		b := binary.BigEndian.AppendUint32([]byte{0}, uint32(id))
		return append(b, payload...)
	}
	good := c.client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	pctx, pcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer pcancel()
	for p := range int32(parts) { // every partition: each leader's registry checks
		r := &kgo.Record{Partition: p, Value: frame(valID, "ok")}
		if err := good.ProduceSync(pctx, r).FirstErr(); err != nil {
			t.Errorf("produce with registered id %d to %s-%d: %v", valID, topic, p, err)
		}
	}
	unknown := 0
	for id := range view.IDs {
		unknown = max(unknown, id)
	}
	unknown += 1000
	bad := c.client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DisableIdempotentWrite())
	for _, tc := range []struct {
		what string
		id   int
	}{{"unknown id", unknown}, {"id registered only under orders-value", id1}} {
		for p := range int32(parts) {
			err := bad.ProduceSync(pctx, &kgo.Record{Partition: p, Value: frame(tc.id, "bad")}).FirstErr()
			if !errors.Is(err, kerr.InvalidRecord) {
				t.Errorf("produce with %s %d to %s-%d: %v, want INVALID_RECORD", tc.what, tc.id, topic, p, err)
			}
		}
	}
	timing("validated produce: accepted and refused")
	if d := time.Since(began); d > 60*time.Second {
		t.Logf("the test took %v, more than its 60 s budget", d.Round(time.Millisecond))
	}
}

// srAgree waits (10 s) until the registries of nodes all serve the same
// view, then checks it is consistent, and returns it.
func (c *procCluster) srAgree(t *testing.T, nodes []int, url func(int) string, what string) srView {
	t.Helper()
	var views []srView
	var problem string
	start := time.Now()
	deadline := start.Add(10 * time.Second)
	for {
		views, problem = views[:0], ""
		for _, id := range nodes {
			v, err := srSnapshot(url(id))
			if err != nil {
				problem = fmt.Sprintf("node %d: %v", id, err)
				break
			}
			views = append(views, v)
			if d := srViewDiff(views[0], v); d != "" {
				problem = fmt.Sprintf("node %d differs from node %d:\n%s", id, nodes[0], d)
				break
			}
		}
		if problem == "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // a poll's pause, not a wait for timing
	}
	if problem != "" {
		t.Fatalf("%s: the registries of nodes %v did not agree within 10 s: %s", what, nodes, problem)
	}
	if ps := srViewProblems(views[0]); len(ps) > 0 {
		t.Fatalf("%s: the registries agree on an inconsistent view:\n%s", what, strings.Join(ps, "\n"))
	}
	t.Logf("%s: nodes %v agree on %d subjects and %d ids (%v)", what, nodes, len(views[0].Subjects), len(views[0].IDs), time.Since(start).Round(time.Millisecond))
	return views[0]
}

// freeAddr is a free TCP address on 127.0.0.<ip>.
func freeAddr(t *testing.T, ip int) string {
	t.Helper()
	return testenv.Addr(t, fmt.Sprintf("127.0.0.%d", ip))
}

// srWriteConflicts is moldau_schema_registry_write_conflicts_total as the
// node's admin endpoint serves it.
func srWriteConflicts(t *testing.T, admin string) int {
	t.Helper()
	st, b, err := srCall(http.MethodGet, "http://"+admin+"/metrics", "")
	if err != nil || st != http.StatusOK {
		t.Fatalf("GET %s/metrics: %d %v", admin, st, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "moldau_schema_registry_write_conflicts_total "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s/metrics: %q: %v", admin, line, err)
			}
			return int(n)
		}
	}
	t.Fatalf("%s/metrics has no moldau_schema_registry_write_conflicts_total", admin)
	return 0
}

// srSameJSON: a and b are the same JSON value (a schema and its canonical
// form differ only in spacing here).
func srSameJSON(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
}

// srRegisterWithin registers until a registration succeeds (a node without
// a _schemas leader answers 50003) or d passes (failing the test with the
// last refusal). It returns the id, the attempts and the last refusal.
func srRegisterWithin(t *testing.T, d time.Duration, url, subject, schema string) (int, int, error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var lastErr error
	for attempts := 1; ; attempts++ {
		id, err := srRegister(url, subject, schema)
		if err == nil {
			return id, attempts, lastErr
		}
		lastErr = err
		if time.Now().After(deadline) {
			t.Fatalf("no registration under %s within %v (%d attempts): %v", subject, d, attempts, err)
		}
		time.Sleep(20 * time.Millisecond) // a poll's pause
	}
}
