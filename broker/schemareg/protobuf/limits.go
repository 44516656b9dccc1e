package protobuf

// Limits on what a schema may make the compiler do. Confluent's registry
// has none of its own (its Java parser runs until the JVM's stack or heap
// gives out); here a schema from any client must not crash or stall the
// broker, so the text is scanned before it is compiled:
//
//   - maxNestingDepth bounds the nesting of { [ ( < in the text (message,
//     enum, service bodies, option aggregate values, map<...>). Messages
//     themselves nest at most 32 deep (protoc's and protocompile's limit);
//     option values may nest deeper, to this bound. protocompile's syntax
//     tree and the printers recurse per level.
//   - maxStatements bounds the declarations (each ; or { of the schema and
//     its references together): the compiler allocates ~4 KiB and takes
//     ~10 µs per declaration, so a 16 MiB body of `message M1{}...` would
//     take 12 s and 6 GiB; the bound keeps a parse under ~1 s.
//
// A base64 FileDescriptorProto is decoded with a recursion limit and its
// message nesting and element count checked before it is printed as text
// (printing indents each line by its depth).

import (
	"fmt"

	"google.golang.org/protobuf/types/descriptorpb"
)

const (
	maxNestingDepth = 1000
	maxStatements   = 50_000
	// maxMessageDepth is protoc's limit on nested message declarations.
	maxMessageDepth = 32
)

// scanLimits checks text's bracket nesting and counts its declarations
// (outside strings and comments), adding them to *statements; it returns
// a message saying which limit text exceeds, or "".
func scanLimits(text string, statements *int) string {
	depth := 0
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '"', '\'':
			for i++; i < len(text) && text[i] != c; i++ {
				if text[i] == '\\' {
					i++
				}
			}
		case '/':
			if i+1 < len(text) && text[i+1] == '/' {
				for i < len(text) && text[i] != '\n' {
					i++
				}
			} else if i+1 < len(text) && text[i+1] == '*' {
				i += 2
				for i+1 < len(text) && (text[i] != '*' || text[i+1] != '/') {
					i++
				}
				i++
			}
		case '{', '[', '(', '<':
			depth++
			if depth > maxNestingDepth {
				return fmt.Sprintf("nesting depth (%d) exceeds the maximum allowed (%d)", depth, maxNestingDepth)
			}
			if c == '{' {
				*statements++
			}
		case '}', ']', ')', '>':
			if depth > 0 {
				depth--
			}
		case ';':
			*statements++
		}
		if *statements > maxStatements {
			return fmt.Sprintf("the schema and its references have more than %d declarations", maxStatements)
		}
	}
	return ""
}

// descriptorLimits checks a decoded FileDescriptorProto before it is
// printed: message nesting at most maxMessageDepth, and at most
// maxStatements messages, fields, enums, values, services and methods.
func descriptorLimits(f *descriptorpb.FileDescriptorProto) string {
	count := len(f.GetDependency()) + len(f.GetExtension())
	for _, e := range f.GetEnumType() {
		count += 1 + len(e.GetValue())
	}
	for _, s := range f.GetService() {
		count += 1 + len(s.GetMethod())
	}
	var walk func(ms []*descriptorpb.DescriptorProto, depth int) string
	walk = func(ms []*descriptorpb.DescriptorProto, depth int) string {
		if len(ms) > 0 && depth > maxMessageDepth {
			return fmt.Sprintf("message nesting depth must be less than %d", maxMessageDepth)
		}
		for _, m := range ms {
			count += 1 + len(m.GetField()) + len(m.GetExtension()) + len(m.GetOneofDecl())
			for _, e := range m.GetEnumType() {
				count += 1 + len(e.GetValue())
			}
			if count > maxStatements {
				return fmt.Sprintf("the schema has more than %d declarations", maxStatements)
			}
			if msg := walk(m.GetNestedType(), depth+1); msg != "" {
				return msg
			}
		}
		return ""
	}
	if msg := walk(f.GetMessageType(), 1); msg != "" {
		return msg
	}
	if count > maxStatements {
		return fmt.Sprintf("the schema has more than %d declarations", maxStatements)
	}
	return ""
}
