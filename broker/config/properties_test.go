package config

import (
	"reflect"
	"testing"
)

func TestParseProperties(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []property
	}{
		{"equals", "a=b\n", []property{{"a", "b", 1}}},
		{"colon and spaces", "a : b\n", []property{{"a", "b", 1}}},
		{"whitespace separator", "a   b c\n", []property{{"a", "b c", 1}}},
		{"leading whitespace and trailing kept", "   a=b  \n", []property{{"a", "b  ", 1}}},
		{"comments", "# c\n! c\n\n  # c\na=1\n", []property{{"a", "1", 5}}},
		{"hash inside value", "a=b#c\n", []property{{"a", "b#c", 1}}},
		{"key only", "a\n", []property{{"a", "", 1}}},
		{"empty value", "a=\n", []property{{"a", "", 1}}},
		{"second separator is value", "a==b\n", []property{{"a", "=b", 1}}},
		{"continuation", "a=one,\\\n    two,\\\n\tthree\nb=2\n", []property{{"a", "one,two,three", 1}, {"b", "2", 4}}},
		{"continued line starting with hash", "a=x\\\n  #y\n", []property{{"a", "x#y", 1}}},
		{"even backslashes do not continue", "a=x\\\\\nb=y\n", []property{{"a", `x\`, 1}, {"b", "y", 2}}},
		{"comment does not continue", "# c \\\na=1\n", []property{{"a", "1", 2}}},
		{"escaped separators in key", `a\=b\:c\ d=v` + "\n", []property{{"a=b:c d", "v", 1}}},
		{"unicode escape", `k=caf\u00e9 \u0041` + "\n", []property{{"k", "café A", 1}}},
		{"surrogate pair", `k=\ud83d\ude00` + "\n", []property{{"k", "😀", 1}}},
		{"control escapes", `k=a\tb\nc\\d\qe` + "\n", []property{{"k", "a\tb\nc\\dqe", 1}}},
		{"CRLF and CR", "a=1\r\nb=2\rc=3", []property{{"a", "1", 1}, {"b", "2", 2}, {"c", "3", 3}}},
		{"no final newline", "a=1", []property{{"a", "1", 1}}},
		{"continuation at EOF", "a=1\\", []property{{"a", "1", 1}}},
		{"duplicates kept in order", "a=1\na=2\n", []property{{"a", "1", 1}, {"a", "2", 2}}},
		{"utf8 passthrough", "k=日本\n", []property{{"k", "日本", 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProperties("f", tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParsePropertiesMalformedUnicode(t *testing.T) {
	for _, text := range []string{`a=\u12`, `a=\uZZZZ`, "x=1\nb=\\u00g1\n"} {
		if _, err := parseProperties("f", text); err == nil {
			t.Errorf("%q: no error", text)
		}
	}
}
