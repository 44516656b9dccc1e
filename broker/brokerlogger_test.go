package broker

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
)

func loggerOp(op kmsg.IncrementalAlterConfigOp, name string, value *string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Op, c.Name, c.Value = op, name, value
	return c
}

func incAlterLogger(b *Broker, t *testing.T, resource string, validateOnly bool, ops ...kmsg.IncrementalAlterConfigsRequestResourceConfig) (int16, string) {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	req.ValidateOnly = validateOnly
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.Configs = kmsg.ConfigResourceTypeBrokerLogger, resource, ops
	req.Resources = append(req.Resources, rr)
	resp := do[*kmsg.IncrementalAlterConfigsResponse](t, b, 1, req)
	r := resp.Resources[0]
	msg := ""
	if r.ErrorMessage != nil {
		msg = *r.ErrorMessage
	}
	return r.ErrorCode, msg
}

func describeRootLogger(t *testing.T, b *Broker) kmsg.DescribeConfigsResponseResourceConfig {
	t.Helper()
	resp := do[*kmsg.DescribeConfigsResponse](t, b, 4, describeConfigsReq(kmsg.ConfigResourceTypeBrokerLogger, "0"))
	r := resp.Resources[0]
	if r.ErrorCode != 0 || len(r.Configs) != 1 || r.Configs[0].Name != "root" {
		t.Fatalf("describe broker logger: %+v", r)
	}
	return r.Configs[0]
}

func TestBrokerLoggerLevel(t *testing.T) {
	level := new(slog.LevelVar)
	b := newAdminBroker(t, func(c *config.Config) { c.LogLevelVar = level })
	s := kmsg.StringPtr

	c := describeRootLogger(t, b)
	if *c.Value != "INFO" || c.ReadOnly || c.IsSensitive || c.Source != kmsg.ConfigSourceDynamicBrokerLoggerConfig || c.ConfigType != kmsg.ConfigTypeUnknown {
		t.Errorf("before any change: %+v", c)
	}

	// Kafka's levels, each mapped onto the shared slog level and reported back.
	for _, tc := range []struct {
		name string
		want slog.Level
	}{
		{"DEBUG", slog.LevelDebug}, {"TRACE", slog.LevelDebug - 4}, {"WARN", slog.LevelWarn},
		{"ERROR", slog.LevelError}, {"FATAL", slog.LevelError + 4}, {"INFO", slog.LevelInfo},
	} {
		if code, msg := incAlterLogger(b, t, "0", false, loggerOp(kmsg.IncrementalAlterConfigOpSet, "root", s(tc.name))); code != 0 {
			t.Fatalf("SET root=%s: %d %s", tc.name, code, msg)
		}
		if got := level.Level(); got != tc.want {
			t.Errorf("SET root=%s: slog level %v, want %v", tc.name, got, tc.want)
		}
		if c := describeRootLogger(t, b); *c.Value != tc.name {
			t.Errorf("SET root=%s: described as %s", tc.name, *c.Value)
		}
	}

	// ValidateOnly changes nothing.
	if code, _ := incAlterLogger(b, t, "0", true, loggerOp(kmsg.IncrementalAlterConfigOpSet, "root", s("DEBUG"))); code != 0 || level.Level() != slog.LevelInfo {
		t.Errorf("validate-only: code %d, level %v", code, level.Level())
	}

	for _, tc := range []struct {
		what     string
		resource string
		ops      []kmsg.IncrementalAlterConfigsRequestResourceConfig
		want     *kerr.Error
		msg      string
	}{
		{"bad level", "0", []kmsg.IncrementalAlterConfigsRequestResourceConfig{loggerOp(kmsg.IncrementalAlterConfigOpSet, "root", s("debug"))},
			kerr.InvalidConfig, "Cannot set the log level of root to debug as it is not a supported log level. Valid log levels are DEBUG, ERROR, FATAL, INFO, TRACE, WARN"},
		{"OFF", "0", []kmsg.IncrementalAlterConfigsRequestResourceConfig{loggerOp(kmsg.IncrementalAlterConfigOpSet, "root", s("OFF"))},
			kerr.InvalidConfig, "Cannot set the log level of root to OFF"},
		{"unknown logger", "0", []kmsg.IncrementalAlterConfigsRequestResourceConfig{loggerOp(kmsg.IncrementalAlterConfigOpSet, "kafka.server", s("DEBUG"))},
			kerr.InvalidConfig, "Logger kafka.server does not exist!"},
		{"delete root", "0", []kmsg.IncrementalAlterConfigsRequestResourceConfig{loggerOp(kmsg.IncrementalAlterConfigOpDelete, "root", nil)},
			kerr.InvalidRequest, "Removing the log level of the root logger is not allowed"},
		{"delete unknown", "0", []kmsg.IncrementalAlterConfigsRequestResourceConfig{loggerOp(kmsg.IncrementalAlterConfigOpDelete, "x", nil)},
			kerr.InvalidConfig, "Logger x does not exist!"},
		{"append", "0", []kmsg.IncrementalAlterConfigsRequestResourceConfig{loggerOp(kmsg.IncrementalAlterConfigOpAppend, "root", s("DEBUG"))},
			kerr.InvalidRequest, "APPEND operation is not allowed for the BROKER_LOGGER resource"},
		{"subtract", "0", []kmsg.IncrementalAlterConfigsRequestResourceConfig{loggerOp(kmsg.IncrementalAlterConfigOpSubtract, "root", s("DEBUG"))},
			kerr.InvalidRequest, "SUBTRACT operation is not allowed for the BROKER_LOGGER resource"},
		{"valid then invalid: nothing applied", "0", []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			loggerOp(kmsg.IncrementalAlterConfigOpSet, "root", s("DEBUG")), loggerOp(kmsg.IncrementalAlterConfigOpSet, "nope", s("DEBUG"))},
			kerr.InvalidConfig, "Logger nope does not exist!"},
		{"other node", "3", []kmsg.IncrementalAlterConfigsRequestResourceConfig{loggerOp(kmsg.IncrementalAlterConfigOpSet, "root", s("DEBUG"))},
			kerr.InvalidRequest, "Unexpected node id. Expected 0, but received 3"},
		{"empty name", "", []kmsg.IncrementalAlterConfigsRequestResourceConfig{loggerOp(kmsg.IncrementalAlterConfigOpSet, "root", s("DEBUG"))},
			kerr.InvalidRequest, "Node id must be an integer, but it is: "},
	} {
		code, msg := incAlterLogger(b, t, tc.resource, false, tc.ops...)
		wantCode(t, tc.what, code, tc.want)
		if !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: message %q, want %q", tc.what, msg, tc.msg)
		}
	}
	if level.Level() != slog.LevelInfo {
		t.Errorf("refused changes moved the level to %v", level.Level())
	}

	// Legacy AlterConfigs: Kafka's answer.
	req := alterReq(kmsg.ConfigResourceTypeBrokerLogger, "0", s("root"), s("DEBUG"))
	resp := do[*kmsg.AlterConfigsResponse](t, b, 1, req)
	wantCode(t, "AlterConfigs", resp.Resources[0].ErrorCode, kerr.InvalidRequest)
	if m := resp.Resources[0].ErrorMessage; m == nil || !strings.Contains(*m, "Unknown resource type 8") {
		t.Errorf("AlterConfigs message: %v", m)
	}
}

// Without a level variable in the config the broker keeps its own,
// starting at --log-level.
func TestBrokerLoggerOwnLevel(t *testing.T) {
	b := newAdminBroker(t, func(c *config.Config) { c.LogLevel = "warn" })
	if c := describeRootLogger(t, b); *c.Value != "WARN" {
		t.Fatalf("--log-level warn described as %s", *c.Value)
	}
	if code, msg := incAlterLogger(b, t, "0", false, loggerOp(kmsg.IncrementalAlterConfigOpSet, "root", kmsg.StringPtr("TRACE"))); code != 0 {
		t.Fatalf("SET: %d %s", code, msg)
	}
	if c := describeRootLogger(t, b); *c.Value != "TRACE" {
		t.Fatalf("after SET TRACE described as %s", *c.Value)
	}
}
