package config

import (
	"strings"
	"testing"
)

// TestFlagsDescribeEveryServerFlag pins the server flags, their environment
// variables and defaults as `moldau --help` shows them: scripts and
// deployments start Moldau with these names, so a rename must fail here.
func TestFlagsDescribeEveryServerFlag(t *testing.T) {
	want := map[string]struct{ env, def string }{
		"addr":                 {EnvAddr, "127.0.0.1:9092"},
		"advertise-addr":       {EnvAdvertiseAddr, ""},
		"data-dir":             {EnvDataDir, "./moldau-data"},
		"memory":               {EnvMemory, ""},
		"node-id":              {EnvNodeID, "0"},
		"config":               {EnvConfig, ""},
		"log-level":            {EnvLogLevel, "info"},
		"log-format":           {EnvLogFormat, "text"},
		"admin-addr":           {EnvAdminAddr, "127.0.0.1:9644"},
		"schema-registry-addr": {EnvSchemaRegistryAddr, "127.0.0.1:8081"},
		"console-addr":         {EnvConsoleAddr, "127.0.0.1:8080"},
		"http-proxy-addr":      {EnvHTTPProxyAddr, "127.0.0.1:8082"},
		"http-allowed-hosts":   {EnvHTTPAllowedHosts, ""},
		"set":                  {"", ""},
		"add-scram":            {"", ""},
		"dev":                  {EnvDev, ""},
		"pprof":                {EnvPprof, ""},
		"log-requests":         {EnvLogRequests, ""},
		"kafka-version":        {EnvKafkaVersion, ""},
		"peers":                {EnvPeers, ""},
		"peer-addr":            {EnvPeerAddr, ""},
		"listeners":            {EnvListeners, ""},
	}
	got := Flags()
	if len(got) != len(want) {
		t.Errorf("Flags() has %d flags, want %d: %+v", len(got), len(want), got)
	}
	for _, f := range got {
		w, ok := want[f.Name]
		if !ok {
			t.Errorf("unexpected flag --%s (add it to this test with its env name)", f.Name)
			continue
		}
		if f.Env != w.env || f.Default != w.def {
			t.Errorf("--%s: env %q default %q, want env %q default %q", f.Name, f.Env, f.Default, w.env, w.def)
		}
		if f.Usage == "" || strings.Contains(f.Usage, "(env ") {
			t.Errorf("--%s: usage %q", f.Name, f.Usage)
		}
		if f.Bool == (f.Placeholder != "") {
			t.Errorf("--%s: bool %v with placeholder %q", f.Name, f.Bool, f.Placeholder)
		}
	}
	// The environment names are the ones Load reads: each one set to a
	// wrong value must be rejected (MOLDAU_CONFIG: the file is opened;
	// MOLDAU_DATA_DIR takes any path, so it must show up in the Config).
	for _, f := range got {
		if f.Env == "" {
			continue
		}
		val := "not-valid-for-anything:x:y"
		if f.Env == EnvKafkaVersion {
			val = "9.9"
		}
		if f.Env == EnvAdvertiseAddr {
			val = "no-port"
		}
		cfg, err := Load(nil, env(map[string]string{f.Env: val}), discard())
		if f.Env == EnvDataDir {
			if err != nil || cfg.DataDir != val {
				t.Errorf("--%s: %s=%q gave data dir %q, err %v", f.Name, f.Env, val, cfg.DataDir, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("--%s: Load ignored %s=%q", f.Name, f.Env, val)
		}
	}
}
