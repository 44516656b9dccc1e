package avro

import "fmt"

// maxLinkedDepth bounds how deep a schema nests once its references'
// named types are linked in. Each text nests at most
// schema.MaxJSONNestingDepth levels, but a chain of references (a record
// nesting 1,000 levels down to a type of the next reference, and so on)
// nests their sum, and the compatibility check and the "resolved" printing
// recurse once per level: 98 such references took 128 MB of goroutine
// stack.
const maxLinkedDepth = 10_000

// linkedDepthError returns Avro-style text when root nests deeper than
// maxLinkedDepth through named types, else "". It recurses at most
// maxLinkedDepth deep and visits each named type once.
func linkedDepthError(root *node) string {
	height := map[*node]int{} // named type -> levels below it; -1 while in progress
	var walk func(n *node, depth int) (int, bool)
	walk = func(n *node, depth int) (int, bool) {
		if depth > maxLinkedDepth {
			return 0, false
		}
		if n.isNamed() {
			if h, ok := height[n]; ok {
				if h < 0 { // recursive type: its own levels are counted once
					return 0, true
				}
				return h, depth+h <= maxLinkedDepth
			}
			height[n] = -1
		}
		var children []*node
		switch n.kind {
		case kArray:
			children = []*node{n.items}
		case kMap:
			children = []*node{n.values}
		case kUnion:
			children = n.branches
		case kRecord:
			for _, f := range n.fields {
				children = append(children, f.typ)
			}
		}
		h := 0
		for _, c := range children {
			if c == nil {
				continue
			}
			ch, ok := walk(c, depth+1)
			if !ok {
				return 0, false
			}
			h = max(h, ch+1)
		}
		if n.isNamed() {
			height[n] = h
		}
		return h, true
	}
	if _, ok := walk(root, 0); !ok {
		return fmt.Sprintf("Schema nesting depth through its references exceeds the maximum allowed (%d)", maxLinkedDepth)
	}
	return ""
}
