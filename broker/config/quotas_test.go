package config

import (
	"errors"
	"testing"
)

func TestQuotasConfig(t *testing.T) {
	c, err := Load([]string{"--config", writeFile(t, "max.connections.per.ip=5\n"+
		"max.connections.per.ip.overrides=127.0.0.1:10, localhost:2,[::1]:7\n"+
		"max.connections=100\nmax.connection.creation.rate=20\nquota.window.num=3\nquota.window.size.seconds=2\n"+
		"controller.quota.window.num=5\ncontroller.quota.window.size.seconds=3\n")}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	q := c.Security.Quotas
	if q.MaxConnectionsPerIP != 5 || !q.MaxConnectionsPerIPSet || q.MaxConnections != 100 || q.MaxConnectionCreationRate != 20 {
		t.Errorf("limits %+v", q)
	}
	if len(q.MaxConnectionsPerIPOverrides) != 3 || q.MaxConnectionsPerIPOverrides["127.0.0.1"] != 10 ||
		q.MaxConnectionsPerIPOverrides["localhost"] != 2 || q.MaxConnectionsPerIPOverrides["::1"] != 7 {
		t.Errorf("overrides %v", q.MaxConnectionsPerIPOverrides)
	}
	if n, s := q.Window(); n != 3 || s != 2 {
		t.Errorf("window %d x %d s", n, s)
	}
	if n, s := q.ControllerWindow(); n != 5 || s != 3 {
		t.Errorf("controller window %d x %d s", n, s)
	}

	d, err := Load(nil, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	if n, s := d.Security.Quotas.Window(); n != 11 || s != 1 {
		t.Errorf("default window %d x %d s", n, s)
	}

	for _, bad := range []string{
		"max.connections.per.ip=0\n",
		"max.connections.per.ip=-1\n",
		"max.connections=x\n",
		"quota.window.num=0\n",
		"quota.window.size.seconds=0\n",
		"controller.quota.window.num=0\n",
		"max.connections.per.ip.overrides=hostonly\n",
		"max.connections.per.ip.overrides=h:-1\n",
	} {
		_, err := Load([]string{"--config", writeFile(t, bad)}, env(nil), discard())
		var ice *InvalidConfigError
		if !errors.As(err, &ice) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	// Zero per IP with overrides: only the listed hosts may connect.
	if _, err := Load([]string{"--config", writeFile(t, "max.connections.per.ip=0\nmax.connections.per.ip.overrides=127.0.0.1:3\n")}, env(nil), discard()); err != nil {
		t.Errorf("zero with overrides: %v", err)
	}
}
