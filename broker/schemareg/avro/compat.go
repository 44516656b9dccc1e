package avro

// The reader/writer check: Avro Java's SchemaCompatibility
// (ReaderWriterCompatibilityChecker), which Confluent's
// AvroSchema.isBackwardCompatible calls, reproduced step by step so its
// results and their locations match, including its quirks:
//   - names compare by short name (a namespace change is compatible); the
//     reader's aliases may name the writer's full name;
//   - a reader field matches the writer field of the same name or of one of
//     the reader field's aliases;
//   - a reader field without default but of an enum type with a default is
//     checked against the whole writer record (and so is incompatible);
//   - an enum reader with a default accepts any writer symbols;
//   - a writer union against a reader union reports only
//     MISSING_UNION_BRANCH per branch; a writer union against a non-union
//     reader reports each branch's own incompatibilities;
//   - results are memoized per (reader, writer) pair of nodes, so a named
//     type checked twice reports the location of its first check, and a
//     recursive type is compatible unless proven otherwise.
// Logical types are not compared (Avro's checker ignores them).

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

const (
	nameMismatch          = "NAME_MISMATCH"
	fixedSizeMismatch     = "FIXED_SIZE_MISMATCH"
	missingEnumSymbols    = "MISSING_ENUM_SYMBOLS"
	readerFieldNoDefault  = "READER_FIELD_MISSING_DEFAULT_VALUE"
	typeMismatch          = "TYPE_MISMATCH"
	missingUnionBranch    = "MISSING_UNION_BRANCH"
	compatibilityProgress = 2 // memo marker: recursion in progress
)

// incompatibility is SchemaCompatibility.Incompatibility.
type incompatibility struct {
	typ      string
	message  string
	location []string // from the root token "", as asList(location)
}

// path is Incompatibility.getLocation: a JSON pointer without the root.
func (in incompatibility) path() string {
	var b strings.Builder
	b.WriteByte('/')
	for i, c := range in.location[1:] {
		if i > 0 {
			b.WriteByte('/')
		}
		c = strings.ReplaceAll(c, "~", "~0")
		b.WriteString(strings.ReplaceAll(c, "/", "~1"))
	}
	return b.String()
}

// confluent is Confluent's Difference.toString: %s verbs stand for the
// reader's and the writer's labels ("new"/"old"), filled by the registry.
func (in incompatibility) confluent() string {
	p := in.path()
	var d string
	switch in.typ {
	case fixedSizeMismatch:
		d = "The size of FIXED type field at path '" + p + "' in the %s schema does not match with the %s schema"
	case typeMismatch:
		d = "The type (path '" + p + "') of a field in the %s schema does not match with the %s schema"
	case nameMismatch:
		d = "The name of the schema has changed (path '" + p + "')"
	case missingEnumSymbols:
		d = "The %s schema is missing enum symbols '" + in.message + "' at path '" + p + "' in the %s schema"
	case missingUnionBranch:
		d = "The %s schema is missing a type inside a union field at path '" + p + "' in the %s schema"
	case readerFieldNoDefault:
		d = "The field '" + in.message + "' at path '" + p + "' in the %s schema has no default value and is missing in the %s schema"
	}
	return "{errorType:'" + in.typ + "', description:'" + d + "', additionalInfo:'" + in.message + "'}"
}

// result is SchemaCompatibilityResult: compatible iff incompatible is false;
// progress marks a pair whose check is under way.
type result struct {
	incompatible bool
	progress     bool
	list         []incompatibility
}

func (r result) merge(o result) result {
	out := result{incompatible: r.incompatible || o.incompatible}
	out.list = append(append(out.list, r.list...), o.list...)
	return out
}

type pair struct{ reader, writer *node }

type checker struct {
	memo map[pair]result
	// fieldIndex and branchIndex are built on first use per writer record
	// and reader union, so that a wide record or union is matched in
	// linear time rather than by Java's scans (quadratic: a 10,000-branch
	// union against itself took 2m43s and 20 GB).
	fieldIndex  map[*node]map[string]*field
	branchIndex map[*node]map[string][]int
	// location is the Deque as a stack: location[len-1] is its first.
	location []string
}

func checkCompatibility(reader, writer *node) []incompatibility {
	c := &checker{memo: map[pair]result{}, fieldIndex: map[*node]map[string]*field{}, branchIndex: map[*node]map[string][]int{}}
	return c.check(reader, writer).list
}

// check is the two-argument getCompatibility: a fresh location.
func (c *checker) check(reader, writer *node) result {
	saved := c.location
	c.location = nil
	r := c.get("", reader, writer)
	c.location = saved
	return r
}

func (c *checker) push(token string) { c.location = append(c.location, token) }
func (c *checker) pop()              { c.location = c.location[:len(c.location)-1] }

func (c *checker) here() []string { return append([]string(nil), c.location...) }

func (c *checker) incompatible(typ, message string) result {
	return result{incompatible: true, list: []incompatibility{{typ: typ, message: message, location: c.here()}}}
}

func (c *checker) get(token string, reader, writer *node) result {
	c.push(token)
	defer c.pop()
	p := pair{reader, writer}
	if r, ok := c.memo[p]; ok {
		if r.progress {
			return result{}
		}
		return r
	}
	c.memo[p] = result{progress: true}
	r := c.calculate(reader, writer)
	c.memo[p] = r
	return r
}

func (c *checker) calculate(reader, writer *node) result {
	var r result
	if reader.kind == writer.kind {
		switch reader.kind {
		case kArray:
			return r.merge(c.get("items", reader.items, writer.items))
		case kMap:
			return r.merge(c.get("values", reader.values, writer.values))
		case kFixed:
			r = r.merge(c.names(reader, writer))
			return r.merge(c.fixedSize(reader, writer))
		case kEnum:
			r = r.merge(c.names(reader, writer))
			return r.merge(c.enumSymbols(reader, writer))
		case kRecord:
			r = r.merge(c.names(reader, writer))
			return r.merge(c.fields(reader, writer))
		case kUnion:
			for i, wb := range writer.branches {
				c.push(strconv.Itoa(i))
				if c.check(reader, wb).incompatible {
					r = r.merge(c.incompatible(missingUnionBranch,
						"reader union lacking writer type: "+wb.kind.javaName()))
				}
				c.pop()
			}
			return r
		}
		return r // primitives
	}
	if writer.kind == kUnion {
		for i, wb := range writer.branches {
			r = r.merge(c.get(strconv.Itoa(i), reader, wb))
		}
		return r
	}
	switch reader.kind {
	case kLong:
		if writer.kind == kInt {
			return r
		}
	case kFloat:
		if writer.kind == kInt || writer.kind == kLong {
			return r
		}
	case kDouble:
		if writer.kind == kInt || writer.kind == kLong || writer.kind == kFloat {
			return r
		}
	case kBytes:
		if writer.kind == kString {
			return r
		}
	case kString:
		if writer.kind == kBytes {
			return r
		}
	case kUnion:
		for _, i := range c.candidates(reader, writer) {
			if !c.check(reader.branches[i], writer).incompatible {
				return r
			}
		}
		return r.merge(c.incompatible(missingUnionBranch, "reader union lacking writer type: "+writer.kind.javaName()))
	}
	return r.merge(c.incompatible(typeMismatch, fmt.Sprintf("reader type: %s not compatible with writer type: %s",
		reader.kind.javaName(), writer.kind.javaName())))
}

func (c *checker) fields(reader, writer *node) result {
	var r result
	c.push("fields")
	for _, rf := range reader.fields {
		c.push(strconv.Itoa(rf.pos))
		wf := c.lookupWriterField(writer, rf)
		switch {
		case wf != nil:
			r = r.merge(c.get("type", rf.typ, wf.typ))
		case rf.def != nil:
		case rf.typ.kind == kEnum && rf.typ.enumDefault != nil:
			r = r.merge(c.get("type", rf.typ, writer))
		default:
			r = r.merge(c.incompatible(readerFieldNoDefault, rf.name))
		}
		c.pop()
	}
	c.pop()
	return r
}

// ambiguousField is Java's AvroRuntimeException from lookupWriterField,
// which Confluent turns into the check's only message.
type ambiguousField struct{ msg string }

// lookupWriterField is SchemaCompatibility.lookupWriterField. A reader
// field matching several writer fields (by name and aliases) aborts the
// check, as Java's exception does.
func (c *checker) lookupWriterField(writer *node, rf *field) *field {
	index := c.fieldIndex[writer]
	if index == nil {
		index = make(map[string]*field, len(writer.fields))
		for _, f := range writer.fields {
			if _, dup := index[f.name]; !dup { // node.field: the first
				index[f.name] = f
			}
		}
		c.fieldIndex[writer] = index
	}
	var found []*field
	if f := index[rf.name]; f != nil {
		found = append(found, f)
	}
	for _, a := range rf.aliases {
		if f := index[a]; f != nil {
			found = append(found, f)
		}
	}
	switch len(found) {
	case 0:
		return nil
	case 1:
		return found[0]
	}
	panic(ambiguousField{msg: fmt.Sprintf("Reader record field %s type:%s pos:%d matches multiple fields in writer record schema %s",
		rf.name, rf.typ.kindName(), rf.pos, toJSON(writer, nil))})
}

// candidates are the indexes (in order) of the branches of the reader
// union that can be compatible with writer, a non-union: Java tries every
// branch, but a branch of a named type whose kind differs from a named
// writer's, or whose name and aliases do not match it (names), is
// incompatible whatever else, and unnamed kinds occur at most once each.
func (c *checker) candidates(union, writer *node) []int {
	if !writer.isNamed() {
		all := make([]int, len(union.branches))
		for i := range all {
			all[i] = i
		}
		return all
	}
	index := c.branchIndex[union]
	if index == nil {
		index = map[string][]int{}
		for i, b := range union.branches {
			if !b.isNamed() {
				index["u"] = append(index["u"], i)
				continue
			}
			k := strconv.Itoa(int(b.kind))
			index[k+"n"+b.name.name] = append(index[k+"n"+b.name.name], i)
			for _, a := range b.aliasNames() {
				index[k+"a"+a] = append(index[k+"a"+a], i)
			}
		}
		c.branchIndex[union] = index
	}
	k := strconv.Itoa(int(writer.kind))
	out := append(append(append([]int(nil), index["u"]...), index[k+"n"+writer.name.name]...), index[k+"a"+writer.name.full()]...)
	sort.Ints(out)
	return slices.Compact(out)
}

func (c *checker) enumSymbols(reader, writer *node) result {
	c.push("symbols")
	defer c.pop()
	have := map[string]bool{}
	for _, s := range reader.symbols {
		have[s] = true
	}
	var missing []string
	for _, s := range writer.symbols {
		if !have[s] {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 || (reader.enumDefault != nil && have[*reader.enumDefault]) {
		return result{}
	}
	sort.Strings(missing)
	return c.incompatible(missingEnumSymbols, "["+strings.Join(missing, ", ")+"]")
}

func (c *checker) fixedSize(reader, writer *node) result {
	c.push("size")
	defer c.pop()
	if reader.size == writer.size {
		return result{}
	}
	return c.incompatible(fixedSizeMismatch, fmt.Sprintf("expected: %d, found: %d", writer.size, reader.size))
}

func (c *checker) names(reader, writer *node) result {
	c.push("name")
	defer c.pop()
	if reader.name.name == writer.name.name {
		return result{}
	}
	wf := writer.name.full()
	for _, a := range reader.aliasNames() {
		if a == wf {
			return result{}
		}
	}
	return c.incompatible(nameMismatch, "expected: "+wf)
}
