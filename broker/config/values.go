package config

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Config types, as Kafka's DescribeConfigs response numbers them.
const (
	TypeUnknown  int8 = 0
	TypeBoolean  int8 = 1
	TypeString   int8 = 2
	TypeInt      int8 = 3
	TypeShort    int8 = 4
	TypeLong     int8 = 5
	TypeDouble   int8 = 6
	TypeList     int8 = 7
	TypeClass    int8 = 8
	TypePassword int8 = 9
)

// ConfigSource is where a config value came from, numbered as in Kafka's
// DescribeConfigs response.
type ConfigSource int8

const (
	SourceUnknown              ConfigSource = 0
	SourceDynamicTopic         ConfigSource = 1 // DYNAMIC_TOPIC_CONFIG (TOPIC_CONFIG)
	SourceDynamicBroker        ConfigSource = 2 // DYNAMIC_BROKER_CONFIG
	SourceDynamicDefaultBroker ConfigSource = 3 // DYNAMIC_DEFAULT_BROKER_CONFIG
	SourceStaticBroker         ConfigSource = 4 // STATIC_BROKER_CONFIG
	SourceDefault              ConfigSource = 5 // DEFAULT_CONFIG
	SourceDynamicBrokerLogger  ConfigSource = 6 // DYNAMIC_BROKER_LOGGER_CONFIG
	SourceClientMetrics        ConfigSource = 7 // CLIENT_METRICS_CONFIG
	SourceGroup                ConfigSource = 8 // GROUP_CONFIG
)

func (s ConfigSource) String() string {
	switch s {
	case SourceDynamicTopic:
		return "DYNAMIC_TOPIC_CONFIG"
	case SourceDynamicBroker:
		return "DYNAMIC_BROKER_CONFIG"
	case SourceDynamicDefaultBroker:
		return "DYNAMIC_DEFAULT_BROKER_CONFIG"
	case SourceStaticBroker:
		return "STATIC_BROKER_CONFIG"
	case SourceDefault:
		return "DEFAULT_CONFIG"
	case SourceDynamicBrokerLogger:
		return "DYNAMIC_BROKER_LOGGER_CONFIG"
	case SourceClientMetrics:
		return "CLIENT_METRICS_CONFIG"
	case SourceGroup:
		return "GROUP_CONFIG"
	}
	return "UNKNOWN"
}

// ErrUnknownConfig is matched (errors.Is) by every error about a config key
// that neither Moldau nor Kafka knows.
var ErrUnknownConfig = errors.New("config: unknown config")

// UnknownConfigError names a topic config key that does not exist.
type UnknownConfigError struct{ Name string }

func (e *UnknownConfigError) Error() string {
	return fmt.Sprintf("config: unknown topic config %q", e.Name)
}
func (e *UnknownConfigError) Unwrap() error { return ErrUnknownConfig }

// UnknownKeyError is a key in the properties that neither Moldau nor Apache
// Kafka knows. Line is 0 for a --set.
type UnknownKeyError struct {
	Key  string
	File string // the file name, or "--set"
	Line int
}

func (e *UnknownKeyError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("config: unknown key %q in %s", e.Key, e.File)
	}
	return fmt.Sprintf("config: unknown key %q in %s (line %d)", e.Key, e.File, e.Line)
}
func (e *UnknownKeyError) Unwrap() error { return ErrUnknownConfig }

// InvalidConfigError is a config value that does not parse or is out of
// range. Where says where the value came from when it came from a file, a
// flag or the environment ("" for topic configs).
type InvalidConfigError struct {
	Name   string
	Value  string
	Reason string
	Where  string
	// Message, when set, is the whole message (Kafka's, for the wire).
	Message string
}

func (e *InvalidConfigError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	if e.Where != "" {
		return fmt.Sprintf("config: invalid value %q for %s in %s: %s", e.Value, e.Name, e.Where, e.Reason)
	}
	return fmt.Sprintf("config: invalid value %q for %s: %s", e.Value, e.Name, e.Reason)
}

// valueSpec is the type and validity rule of one config value, in the manner
// of Kafka's ConfigDef: values are trimmed before parsing, numbers are
// decimal, booleans are true/false in any case.
type valueSpec struct {
	typ      int8
	min, max int64              // INT/SHORT/LONG bounds (inclusive)
	minF     float64            // DOUBLE bounds (inclusive)
	maxF     float64            //
	oneOf    []string           // STRING: allowed values (case-sensitive); LIST: allowed elements
	check    func(string) error // extra rule on the trimmed value
	nullable bool               // the empty string means "not set"
}

func intSpec(min, max int64) valueSpec { return valueSpec{typ: TypeInt, min: min, max: max} }
func longSpec(min int64) valueSpec     { return valueSpec{typ: TypeLong, min: min, max: math.MaxInt64} }
func boolSpec() valueSpec              { return valueSpec{typ: TypeBoolean} }

// validate returns the canonical form of v ("TRUE" -> "true", " 5 " -> "5",
// "compact, delete" -> "compact,delete") or an error reason.
func (s valueSpec) validate(v string) (string, error) {
	t := strings.TrimSpace(v)
	if s.nullable && t == "" {
		return "", nil
	}
	var out string
	switch s.typ {
	case TypeBoolean:
		switch strings.ToLower(t) {
		case "true":
			out = "true"
		case "false":
			out = "false"
		default:
			return "", errors.New("expected true or false")
		}
	case TypeInt, TypeShort, TypeLong:
		bits := 64
		lo, hi := s.min, s.max
		switch s.typ {
		case TypeInt:
			bits = 32
			lo, hi = max(lo, math.MinInt32), min(hi, math.MaxInt32)
		case TypeShort:
			bits = 16
			lo, hi = max(lo, math.MinInt16), min(hi, math.MaxInt16)
		}
		n, err := strconv.ParseInt(t, 10, bits)
		if err != nil {
			return "", fmt.Errorf("expected a %d-bit integer", bits)
		}
		if n < lo || n > hi {
			return "", rangeError(lo, hi, s.typ)
		}
		out = strconv.FormatInt(n, 10)
	case TypeDouble:
		f, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsNaN(f) {
			return "", errors.New("expected a number")
		}
		if f < s.minF || f > s.maxF {
			return "", fmt.Errorf("must be between %v and %v", s.minF, s.maxF)
		}
		out = formatDouble(f)
	case TypeString, TypeClass, TypePassword:
		if len(s.oneOf) > 0 && !slices.Contains(s.oneOf, t) {
			return "", fmt.Errorf("must be one of %s", strings.Join(s.oneOf, ", "))
		}
		out = t
	case TypeList:
		items := splitList(t)
		if len(s.oneOf) > 0 {
			if len(items) == 0 {
				return "", fmt.Errorf("must be a non-empty list of %s", strings.Join(s.oneOf, ", "))
			}
			for _, it := range items {
				if !slices.Contains(s.oneOf, it) {
					return "", fmt.Errorf("%q is not one of %s", it, strings.Join(s.oneOf, ", "))
				}
			}
		}
		out = strings.Join(items, ",")
	default:
		out = t
	}
	if s.check != nil {
		if err := s.check(out); err != nil {
			return "", err
		}
	}
	return out, nil
}

func rangeError(lo, hi int64, typ int8) error {
	top := int64(math.MaxInt64)
	switch typ {
	case TypeInt:
		top = math.MaxInt32
	case TypeShort:
		top = math.MaxInt16
	}
	if hi >= top {
		return fmt.Errorf("must be at least %d", lo)
	}
	return fmt.Errorf("must be between %d and %d", lo, hi)
}

// splitList splits a Kafka LIST value: comma-separated, elements trimmed,
// an empty value is the empty list.
func splitList(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// formatDouble renders a float as Java's Double.toString does for ordinary
// values: 0.5 -> "0.5", 1 -> "1.0".
func formatDouble(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

func ptr(s string) *string { return &s }

func i64(n int64) string { return strconv.FormatInt(n, 10) }
