package broker

// The BROKER_LOGGER config resource (KIP-412): the broker's log level,
// changed at run time by IncrementalAlterConfigs and reported by
// DescribeConfigs, with Kafka 4.4's semantics (RuntimeLoggerManager):
//
//   - Moldau has one logger, "root" (its log/slog handler). SET or DELETE of
//     any other name is INVALID_CONFIG "Logger NAME does not exist!", as
//     Kafka answers for a logger log4j does not know.
//   - SET takes Kafka's levels, upper case as Kafka compares them: FATAL,
//     ERROR, WARN, INFO, DEBUG, TRACE (LogLevelConfig.VALID_LOG_LEVELS;
//     Kafka 4.4 takes neither OFF nor ALL). Anything else is INVALID_CONFIG
//     with Kafka's message. They map onto slog levels as
//       TRACE -> slog.LevelDebug-4 (Moldau logs nothing below debug, so
//                TRACE shows what DEBUG shows)
//       DEBUG -> slog.LevelDebug, INFO -> slog.LevelInfo,
//       WARN  -> slog.LevelWarn,  ERROR -> slog.LevelError,
//       FATAL -> slog.LevelError+4 (Moldau has no fatal lines: silent)
//     and back (a level between two of them reports the lower name).
//   - DELETE of "root" is INVALID_REQUEST "Removing the log level of the
//     root logger is not allowed"; APPEND and SUBTRACT are INVALID_REQUEST
//     "APPEND operation is not allowed for the BROKER_LOGGER resource".
//   - The resource name must be this node's id: "Node id must be an
//     integer, but it is: NAME" / "Unexpected node id. Expected ID, but
//     received NAME".
//   - A SET with a null value is INVALID_REQUEST "null value not supported
//     for: root" (the check every resource type shares).
//
// Checked against Kafka 4.4 (tests/loglevel_test.go with
// MOLDAU_LOGLEVEL_REF_ADDR, and every refusal above by hand): the same
// codes and messages. Kafka's describe also lists the loggers log4j
// created (org.apache.kafka.server.logger.LoggingController ...), which
// inherit root's level; Moldau has none.
//   - AlterConfigs (33) does not serve BROKER_LOGGER: INVALID_REQUEST
//     "Unknown resource type 8", as Kafka.
//   - The level is the process's: neither durable nor replicated (Kafka
//     does not persist broker-logger changes either). A restart returns to
//     --log-level.
//
// The level lives in a *slog.LevelVar (config.Config.LogLevelVar) that
// cmd/moldau's handler reads; LevelVar is safe for concurrent use, so no
// lock is needed.

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
)

const rootLogger = "root"

// kafkaLogLevels maps Kafka's log level names to slog levels, most verbose
// first.
var kafkaLogLevels = []struct {
	name  string
	level slog.Level
}{
	{"TRACE", slog.LevelDebug - 4},
	{"DEBUG", slog.LevelDebug},
	{"INFO", slog.LevelInfo},
	{"WARN", slog.LevelWarn},
	{"ERROR", slog.LevelError},
	{"FATAL", slog.LevelError + 4},
}

// validKafkaLogLevels is Kafka's list for its message, sorted by name.
const validKafkaLogLevels = "DEBUG, ERROR, FATAL, INFO, TRACE, WARN"

// brokerLogLevelVar returns the level variable the broker changes: the
// process's (cfg.LogLevelVar) or, without one, a new one at cfg.LogLevel.
func brokerLogLevelVar(cfg config.Config) *slog.LevelVar {
	if cfg.LogLevelVar != nil {
		return cfg.LogLevelVar
	}
	v := new(slog.LevelVar)
	switch strings.ToLower(cfg.LogLevel) {
	case "debug":
		v.Set(slog.LevelDebug)
	case "warn", "warning":
		v.Set(slog.LevelWarn)
	case "error":
		v.Set(slog.LevelError)
	default:
		v.Set(slog.LevelInfo)
	}
	return v
}

// kafkaLogLevelName names a slog level with Kafka's level names.
func kafkaLogLevelName(l slog.Level) string {
	name := kafkaLogLevels[0].name
	for _, k := range kafkaLogLevels {
		if l >= k.level {
			name = k.name
		}
	}
	return name
}

// describeBrokerLogger answers DescribeConfigs for BROKER_LOGGER: the root
// logger at its current level, as Kafka 4.4's ConfigHelper describes a
// logger: source DYNAMIC_BROKER_LOGGER_CONFIG, not read-only, not
// sensitive, no synonyms, config type left UNKNOWN.
func (b *Broker) describeBrokerLogger(name string, keys []string) ([]config.ConfigEntry, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: broker id must not be empty", errInvalidRequest)
	}
	if err := b.checkBrokerResource(name); err != nil {
		return nil, err
	}
	if !wantedKey(keys, rootLogger) {
		return []config.ConfigEntry{}, nil
	}
	level := kafkaLogLevelName(b.cfg.LogLevelVar.Level())
	return []config.ConfigEntry{{
		Name: rootLogger, Value: &level, Source: config.SourceDynamicBrokerLogger,
		Type: config.TypeUnknown,
	}}, nil
}

// alterBrokerLogger applies IncrementalAlterConfigs ops to BROKER_LOGGER:
// every op is validated first, then (unless validateOnly) applied in order.
func (b *Broker) alterBrokerLogger(name string, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig, validateOnly bool) error {
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil {
		return fmt.Errorf("%w: Node id must be an integer, but it is: %s", errInvalidRequest, name)
	}
	if int32(id) != b.cfg.NodeID {
		return fmt.Errorf("%w: Unexpected node id. Expected %d, but received %s", errInvalidRequest, b.cfg.NodeID, name)
	}
	levels := make([]slog.Level, len(ops))
	for i, c := range ops {
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet, kmsg.IncrementalAlterConfigOpDelete:
			if c.Name != rootLogger {
				return &config.InvalidConfigError{Name: c.Name, Message: "Logger " + c.Name + " does not exist!"}
			}
			if c.Op == kmsg.IncrementalAlterConfigOpDelete {
				return fmt.Errorf("%w: Removing the log level of the root logger is not allowed", errInvalidRequest)
			}
			ok := false
			for _, k := range kafkaLogLevels {
				if k.name == *c.Value {
					levels[i], ok = k.level, true
				}
			}
			if !ok {
				return &config.InvalidConfigError{Name: c.Name, Value: *c.Value, Message: fmt.Sprintf(
					"Cannot set the log level of %s to %s as it is not a supported log level. Valid log levels are %s",
					c.Name, *c.Value, validKafkaLogLevels)}
			}
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			return fmt.Errorf("%w: %s operation is not allowed for the BROKER_LOGGER resource", errInvalidRequest, c.Op)
		default:
			return fmt.Errorf("%w: Unknown operation type %d is not allowed for the BROKER_LOGGER resource", errInvalidRequest, int8(c.Op))
		}
	}
	if validateOnly {
		return nil
	}
	for i, c := range ops {
		b.cfg.LogLevelVar.Set(levels[i])
		b.logger.Warn("updated the log level", "logger", c.Name, "level", *c.Value)
	}
	return nil
}
