package jsonschema

// Confluent's JSON Schema compatibility (json-schema-provider's diff
// package): SchemaDiff.compare(original, update) walks both models and
// lists Differences (a type and a JSON path); a change is compatible when
// every Difference's type is in COMPATIBLE_CHANGES_STRICT. The original is
// the schema the data was written with, the update the schema that reads
// it: JsonSchema.isBackwardCompatible(previous) is compare(previous, this).

import (
	"fmt"
	"math/big"
	"reflect"
	"sort"
	"strings"
)

// diffType is Confluent's Difference.Type.
type diffType string

const (
	idChanged          diffType = "ID_CHANGED"
	descriptionChanged diffType = "DESCRIPTION_CHANGED"
	titleChanged       diffType = "TITLE_CHANGED"
	defaultChanged     diffType = "DEFAULT_CHANGED"
	schemaAdded        diffType = "SCHEMA_ADDED"
	schemaRemoved      diffType = "SCHEMA_REMOVED"
	typeExtended       diffType = "TYPE_EXTENDED"
	typeNarrowed       diffType = "TYPE_NARROWED"
	typeChanged        diffType = "TYPE_CHANGED"

	maxLengthAdded     diffType = "MAX_LENGTH_ADDED"
	maxLengthRemoved   diffType = "MAX_LENGTH_REMOVED"
	maxLengthIncreased diffType = "MAX_LENGTH_INCREASED"
	maxLengthDecreased diffType = "MAX_LENGTH_DECREASED"
	minLengthAdded     diffType = "MIN_LENGTH_ADDED"
	minLengthRemoved   diffType = "MIN_LENGTH_REMOVED"
	minLengthIncreased diffType = "MIN_LENGTH_INCREASED"
	minLengthDecreased diffType = "MIN_LENGTH_DECREASED"
	patternAdded       diffType = "PATTERN_ADDED"
	patternRemoved     diffType = "PATTERN_REMOVED"
	patternChanged     diffType = "PATTERN_CHANGED"

	maximumAdded              diffType = "MAXIMUM_ADDED"
	maximumRemoved            diffType = "MAXIMUM_REMOVED"
	maximumIncreased          diffType = "MAXIMUM_INCREASED"
	maximumDecreased          diffType = "MAXIMUM_DECREASED"
	minimumAdded              diffType = "MINIMUM_ADDED"
	minimumRemoved            diffType = "MINIMUM_REMOVED"
	minimumIncreased          diffType = "MINIMUM_INCREASED"
	minimumDecreased          diffType = "MINIMUM_DECREASED"
	exclusiveMaximumAdded     diffType = "EXCLUSIVE_MAXIMUM_ADDED"
	exclusiveMaximumRemoved   diffType = "EXCLUSIVE_MAXIMUM_REMOVED"
	exclusiveMaximumIncreased diffType = "EXCLUSIVE_MAXIMUM_INCREASED"
	exclusiveMaximumDecreased diffType = "EXCLUSIVE_MAXIMUM_DECREASED"
	exclusiveMinimumAdded     diffType = "EXCLUSIVE_MINIMUM_ADDED"
	exclusiveMinimumRemoved   diffType = "EXCLUSIVE_MINIMUM_REMOVED"
	exclusiveMinimumIncreased diffType = "EXCLUSIVE_MINIMUM_INCREASED"
	exclusiveMinimumDecreased diffType = "EXCLUSIVE_MINIMUM_DECREASED"
	multipleOfAdded           diffType = "MULTIPLE_OF_ADDED"
	multipleOfRemoved         diffType = "MULTIPLE_OF_REMOVED"
	multipleOfExpanded        diffType = "MULTIPLE_OF_EXPANDED"
	multipleOfReduced         diffType = "MULTIPLE_OF_REDUCED"
	multipleOfChanged         diffType = "MULTIPLE_OF_CHANGED"

	requiredAttributeAdded            diffType = "REQUIRED_ATTRIBUTE_ADDED"
	requiredAttributeWithDefaultAdded diffType = "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED"
	requiredAttributeRemoved          diffType = "REQUIRED_ATTRIBUTE_REMOVED"
	maxPropertiesAdded                diffType = "MAX_PROPERTIES_ADDED"
	maxPropertiesRemoved              diffType = "MAX_PROPERTIES_REMOVED"
	maxPropertiesIncreased            diffType = "MAX_PROPERTIES_INCREASED"
	maxPropertiesDecreased            diffType = "MAX_PROPERTIES_DECREASED"
	minPropertiesAdded                diffType = "MIN_PROPERTIES_ADDED"
	minPropertiesRemoved              diffType = "MIN_PROPERTIES_REMOVED"
	minPropertiesIncreased            diffType = "MIN_PROPERTIES_INCREASED"
	minPropertiesDecreased            diffType = "MIN_PROPERTIES_DECREASED"
	additionalPropertiesAdded         diffType = "ADDITIONAL_PROPERTIES_ADDED"
	additionalPropertiesRemoved       diffType = "ADDITIONAL_PROPERTIES_REMOVED"
	additionalPropertiesExtended      diffType = "ADDITIONAL_PROPERTIES_EXTENDED"
	additionalPropertiesNarrowed      diffType = "ADDITIONAL_PROPERTIES_NARROWED"
	dependencyArrayAdded              diffType = "DEPENDENCY_ARRAY_ADDED"
	dependencyArrayRemoved            diffType = "DEPENDENCY_ARRAY_REMOVED"
	dependencyArrayExtended           diffType = "DEPENDENCY_ARRAY_EXTENDED"
	dependencyArrayNarrowed           diffType = "DEPENDENCY_ARRAY_NARROWED"
	dependencyArrayChanged            diffType = "DEPENDENCY_ARRAY_CHANGED"
	dependencySchemaAdded             diffType = "DEPENDENCY_SCHEMA_ADDED"
	dependencySchemaRemoved           diffType = "DEPENDENCY_SCHEMA_REMOVED"

	propertyAddedToOpenContentModel                      diffType = "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
	propertyWithEmptySchemaAddedToOpenContentModel       diffType = "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
	requiredPropertyAddedToUnopenContentModel            diffType = "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
	requiredPropertyWithDefaultAddedToUnopenContentModel diffType = "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL"
	optionalPropertyAddedToUnopenContentModel            diffType = "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
	propertyRemovedFromOpenContentModel                  diffType = "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL"
	propertyWithFalseRemovedFromClosedContentModel       diffType = "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL"
	propertyRemovedFromClosedContentModel                diffType = "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"
	propertyRemovedIsCoveredByPartiallyOpen              diffType = "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	propertyRemovedNotCoveredByPartiallyOpen             diffType = "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	propertyAddedIsCoveredByPartiallyOpen                diffType = "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	propertyAddedNotCoveredByPartiallyOpen               diffType = "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	unevaluatedPropertiesAdded                           diffType = "UNEVALUATED_PROPERTIES_ADDED"
	unevaluatedPropertiesRemoved                         diffType = "UNEVALUATED_PROPERTIES_REMOVED"
	unevaluatedPropertiesExtended                        diffType = "UNEVALUATED_PROPERTIES_EXTENDED"
	unevaluatedPropertiesNarrowed                        diffType = "UNEVALUATED_PROPERTIES_NARROWED"

	maxItemsAdded                         diffType = "MAX_ITEMS_ADDED"
	maxItemsRemoved                       diffType = "MAX_ITEMS_REMOVED"
	maxItemsIncreased                     diffType = "MAX_ITEMS_INCREASED"
	maxItemsDecreased                     diffType = "MAX_ITEMS_DECREASED"
	minItemsAdded                         diffType = "MIN_ITEMS_ADDED"
	minItemsRemoved                       diffType = "MIN_ITEMS_REMOVED"
	minItemsIncreased                     diffType = "MIN_ITEMS_INCREASED"
	minItemsDecreased                     diffType = "MIN_ITEMS_DECREASED"
	maxContainsAdded                      diffType = "MAX_CONTAINS_ADDED"
	maxContainsRemoved                    diffType = "MAX_CONTAINS_REMOVED"
	maxContainsIncreased                  diffType = "MAX_CONTAINS_INCREASED"
	maxContainsDecreased                  diffType = "MAX_CONTAINS_DECREASED"
	minContainsAdded                      diffType = "MIN_CONTAINS_ADDED"
	minContainsRemoved                    diffType = "MIN_CONTAINS_REMOVED"
	minContainsIncreased                  diffType = "MIN_CONTAINS_INCREASED"
	minContainsDecreased                  diffType = "MIN_CONTAINS_DECREASED"
	uniqueItemsAdded                      diffType = "UNIQUE_ITEMS_ADDED"
	uniqueItemsRemoved                    diffType = "UNIQUE_ITEMS_REMOVED"
	additionalItemsAdded                  diffType = "ADDITIONAL_ITEMS_ADDED"
	additionalItemsRemoved                diffType = "ADDITIONAL_ITEMS_REMOVED"
	additionalItemsExtended               diffType = "ADDITIONAL_ITEMS_EXTENDED"
	additionalItemsNarrowed               diffType = "ADDITIONAL_ITEMS_NARROWED"
	unevaluatedItemsAdded                 diffType = "UNEVALUATED_ITEMS_ADDED"
	unevaluatedItemsRemoved               diffType = "UNEVALUATED_ITEMS_REMOVED"
	unevaluatedItemsExtended              diffType = "UNEVALUATED_ITEMS_EXTENDED"
	unevaluatedItemsNarrowed              diffType = "UNEVALUATED_ITEMS_NARROWED"
	itemAddedToOpenContentModel           diffType = "ITEM_ADDED_TO_OPEN_CONTENT_MODEL"
	itemWithEmptySchemaAddedToOpenContent diffType = "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
	itemAddedToClosedContentModel         diffType = "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL"
	itemRemovedFromOpenContentModel       diffType = "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL"
	itemWithFalseRemovedFromClosedContent diffType = "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL"
	itemRemovedFromClosedContentModel     diffType = "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL"
	itemRemovedIsCoveredByPartiallyOpen   diffType = "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	itemRemovedNotCoveredByPartiallyOpen  diffType = "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	itemAddedIsCoveredByPartiallyOpen     diffType = "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	itemAddedNotCoveredByPartiallyOpen    diffType = "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	enumArrayExtended                     diffType = "ENUM_ARRAY_EXTENDED"
	enumArrayNarrowed                     diffType = "ENUM_ARRAY_NARROWED"
	enumArrayChanged                      diffType = "ENUM_ARRAY_CHANGED"
	combinedTypeExtended                  diffType = "COMBINED_TYPE_EXTENDED"
	combinedTypeChanged                   diffType = "COMBINED_TYPE_CHANGED"
	productTypeExtended                   diffType = "PRODUCT_TYPE_EXTENDED"
	productTypeNarrowed                   diffType = "PRODUCT_TYPE_NARROWED"
	sumTypeExtended                       diffType = "SUM_TYPE_EXTENDED"
	sumTypeNarrowed                       diffType = "SUM_TYPE_NARROWED"
	combinedTypeSubschemasChanged         diffType = "COMBINED_TYPE_SUBSCHEMAS_CHANGED"
	notTypeExtended                       diffType = "NOT_TYPE_EXTENDED"
	notTypeNarrowed                       diffType = "NOT_TYPE_NARROWED"
)

// compatibleStrict is SchemaDiff.COMPATIBLE_CHANGES_STRICT (the registry's
// default policy): every other Difference makes the change incompatible.
var compatibleStrict = setOf(
	idChanged, descriptionChanged, titleChanged, defaultChanged, schemaRemoved, typeExtended,
	maxLengthIncreased, maxLengthRemoved, minLengthDecreased, minLengthRemoved, patternRemoved,
	maximumIncreased, maximumRemoved, minimumDecreased, minimumRemoved,
	exclusiveMaximumIncreased, exclusiveMaximumRemoved, exclusiveMinimumDecreased,
	exclusiveMinimumRemoved, multipleOfReduced, multipleOfRemoved,
	requiredAttributeWithDefaultAdded, requiredAttributeRemoved, dependencyArrayNarrowed,
	dependencyArrayRemoved, dependencySchemaRemoved, maxPropertiesIncreased,
	maxPropertiesRemoved, minPropertiesDecreased, minPropertiesRemoved,
	additionalPropertiesAdded, additionalPropertiesExtended, unevaluatedPropertiesAdded,
	unevaluatedPropertiesExtended, propertyWithEmptySchemaAddedToOpenContentModel,
	requiredPropertyWithDefaultAddedToUnopenContentModel,
	optionalPropertyAddedToUnopenContentModel, propertyWithFalseRemovedFromClosedContentModel,
	propertyRemovedFromOpenContentModel, propertyAddedIsCoveredByPartiallyOpen,
	propertyRemovedIsCoveredByPartiallyOpen,
	maxItemsIncreased, maxItemsRemoved, minItemsDecreased, minItemsRemoved,
	maxContainsIncreased, maxContainsRemoved, minContainsDecreased, minContainsRemoved,
	uniqueItemsRemoved, additionalItemsAdded, additionalItemsExtended, unevaluatedItemsAdded,
	unevaluatedItemsExtended, itemWithEmptySchemaAddedToOpenContent,
	itemAddedToClosedContentModel, itemWithFalseRemovedFromClosedContent,
	itemRemovedFromOpenContentModel, itemAddedIsCoveredByPartiallyOpen,
	itemRemovedIsCoveredByPartiallyOpen,
	enumArrayExtended, combinedTypeExtended, productTypeNarrowed, sumTypeExtended,
	notTypeNarrowed,
)

func setOf(ts ...diffType) map[diffType]bool {
	m := make(map[diffType]bool, len(ts))
	for _, t := range ts {
		m[t] = true
	}
	return m
}

// Message families of Difference.error(); each template has two %s: the
// reader's name and then the writer's ("new"/"old" as the registry's
// SchemaValidatorBuilder fills them in).
var (
	keywordAddedOrRemoved = setOf(maximumAdded, minimumAdded, exclusiveMaximumAdded,
		exclusiveMinimumAdded, multipleOfAdded, maxLengthAdded, minLengthAdded, patternAdded,
		requiredAttributeAdded, maxPropertiesAdded, minPropertiesAdded, dependencyArrayAdded,
		dependencySchemaAdded, maxItemsAdded, minItemsAdded, maxContainsAdded,
		minContainsAdded, uniqueItemsAdded, additionalItemsRemoved,
		additionalPropertiesRemoved, unevaluatedPropertiesRemoved, unevaluatedItemsRemoved)
	valueIncreased = setOf(minLengthIncreased, minimumIncreased, exclusiveMinimumIncreased,
		minPropertiesIncreased, multipleOfExpanded, minItemsIncreased, minContainsIncreased)
	valueDecreased = setOf(maxLengthDecreased, maximumDecreased, maxItemsDecreased,
		maxContainsDecreased, exclusiveMaximumDecreased, maxPropertiesDecreased)
	typeNarrowedSet = setOf(additionalItemsNarrowed, enumArrayNarrowed, sumTypeNarrowed,
		additionalPropertiesNarrowed, unevaluatedPropertiesNarrowed, unevaluatedItemsNarrowed)
	valueChanged   = setOf(patternChanged, multipleOfChanged, dependencyArrayChanged)
	typeChangedSet = setOf(typeChanged, typeNarrowed, combinedTypeChanged,
		combinedTypeSubschemasChanged, enumArrayChanged)
	typeExtendedSet = setOf(dependencyArrayExtended, productTypeExtended, sumTypeExtended,
		notTypeExtended)
)

// difference is one Difference: what changed and where.
type difference struct {
	typ  diffType
	path string
}

func (d difference) template() string {
	p := d.path
	switch {
	case keywordAddedOrRemoved[d.typ]:
		return "The keyword at path '" + p + "' in the %s schema is not present in the %s schema"
	case valueIncreased[d.typ]:
		return "The value at path '" + p + "' in the %s schema is more than its value in the %s schema"
	case valueDecreased[d.typ]:
		return "The value at path '" + p + "' in the %s schema is less than its value in the %s schema"
	case valueChanged[d.typ]:
		return "The value at path '" + p + "' is different between the %s and %s schema"
	case typeNarrowedSet[d.typ]:
		return "An array or combined type at path '" + p + "' has fewer elements in the %s schema than the %s schema"
	case typeExtendedSet[d.typ]:
		return "An array or combined type at path '" + p + "' has more elements in the %s schema than the %s schema"
	case typeChangedSet[d.typ]:
		return "A type at path '" + p + "' is different between the %s schema and the %s schema"
	}
	switch d.typ {
	case propertyAddedToOpenContentModel, itemAddedToOpenContentModel:
		return "The %s schema has an open content model and has a property or item at path '" + p + "' which is missing in the %s schema"
	case requiredPropertyAddedToUnopenContentModel:
		return "The %s schema has an unopen content model and has a required property at path '" + p + "' which is missing in the %s schema"
	case propertyRemovedFromClosedContentModel, itemRemovedFromClosedContentModel:
		return "The %s has a closed content model and is missing a property or item present at path '" + p + "' in the %s schema"
	case propertyRemovedNotCoveredByPartiallyOpen, itemRemovedNotCoveredByPartiallyOpen:
		return "A property or item is missing in the %s schema but present at path '" + p + "' in the %s schema and is not covered by its partially open content model"
	case propertyAddedNotCoveredByPartiallyOpen, itemAddedNotCoveredByPartiallyOpen:
		return "The %s schema has a property or item at path '" + p + "' which is missing in the %s schema and is not covered by its partially open content model"
	}
	return ""
}

// message is Difference.toString() with the reader's and the writer's
// labels in place of its two %s (the labels may be "%s" themselves), e.g. {errorType:"TYPE_CHANGED", description:"A type at
// path '#/properties/a' is different between the new schema and the old
// schema'} (the closing quote mismatch is Confluent's).
func (d difference) message(reader, writer string) string {
	desc := d.template() // "" or with exactly two %s (one before the path)
	if head, rest, ok := strings.Cut(desc, "%s"); ok {
		desc = head + reader + strings.Replace(rest, "%s", writer, 1)
	}
	return `{errorType:"` + string(d.typ) + `", description:"` + desc + `'}`
}

type pair struct{ original, update *node }

// diffContext is Confluent's Context: the path being compared and the
// differences found, with a memo of compared pairs shared by subcontexts.
//
// Recursive schemas: a pair met again while it is being compared is a
// cycle and is assumed compatible; since the memo may then hold results
// that rest on that assumption, compareSchemas repeats the comparison with
// the pairs found incompatible seeded until nothing changes (Confluent's
// fixpoint in SchemaDiff.compare).
type diffContext struct {
	path  []string
	diffs []difference
	*shared
}

type shared struct {
	memo         map[pair][]difference // pair-relative paths
	inProgress   map[pair]bool
	seed         map[pair][]difference // pairs known incompatible from the previous pass
	optimismUsed bool
	// steps counts comparisons across passes; past maxCompareSteps every
	// comparison returns at once and the check reports that it stopped.
	steps *int
}

// maxCompareSteps bounds one compatibility check. Confluent compares every
// subschema of a combined type (oneOf/anyOf/allOf) with every one of the
// other schema's and then matches them, so n branches cost n² comparisons:
// a oneOf of 1,000 objects against itself took 5.4 s and 1 GB, 10,000 never
// finished. 250,000 comparisons take under 1 s.
const maxCompareSteps = 250_000

// errTooComplex is CanRead's message when a check reaches maxCompareSteps.
var errTooComplex = fmt.Sprintf("The compatibility check was stopped after %d subschema comparisons: the schemas' combined types (oneOf, anyOf, allOf) have too many subschemas to compare each with each", maxCompareSteps)

func newDiffContext(seed map[pair][]difference, steps *int) *diffContext {
	return &diffContext{shared: &shared{memo: map[pair][]difference{}, inProgress: map[pair]bool{}, seed: seed, steps: steps}}
}

func (c *diffContext) sub() *diffContext {
	return &diffContext{path: append([]string(nil), c.path...), shared: c.shared}
}

func (c *diffContext) enter(p string) { c.path = append(c.path, p) }
func (c *diffContext) leave()         { c.path = c.path[:len(c.path)-1] }

func (c *diffContext) add(t diffType) {
	c.diffs = append(c.diffs, difference{typ: t, path: "#/" + strings.Join(c.path, "/")})
}

func (c *diffContext) addAt(attr string, t diffType) {
	c.enter(attr)
	c.add(t)
	c.leave()
}

func (c *diffContext) compatible() bool { return allCompatible(c.diffs) }

// compareSchemas is SchemaDiff.compare(original, update): the differences
// met by a reader holding update when it reads data written with original.
// ok is false when the comparison was stopped at maxCompareSteps.
func compareSchemas(original, update *node) (diffs []difference, ok bool) {
	var seed map[pair][]difference
	steps := 0
	for {
		c := newDiffContext(seed, &steps)
		c.compare(original, update)
		if steps > maxCompareSteps {
			return nil, false
		}
		incompatible := map[pair][]difference{}
		for p, ds := range c.memo {
			if !allCompatible(ds) {
				incompatible[p] = ds
			}
		}
		if !c.optimismUsed || sameKeys(incompatible, seed) {
			return c.diffs, true
		}
		seed = incompatible
	}
}

func sameKeys(a, b map[pair][]difference) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

func allCompatible(ds []difference) bool {
	for _, d := range ds {
		if !compatibleStrict[d.typ] {
			return false
		}
	}
	return true
}

func (c *diffContext) compare(original, update *node) {
	switch {
	case original == nil && update == nil:
		return
	case original == nil:
		c.add(schemaAdded)
		return
	case update == nil:
		c.add(schemaRemoved)
		return
	}
	if *c.steps++; *c.steps > maxCompareSteps {
		return
	}
	p := pair{original, update}
	rel, ok := c.memo[p]
	if !ok && c.inProgress[p] {
		if rel, ok = c.seed[p]; !ok {
			c.optimismUsed = true
			return // a recursive cycle: assumed compatible
		}
	}
	if !ok {
		c.inProgress[p] = true
		sub := &diffContext{shared: c.shared}
		sub.compareTypes(original, update)
		delete(c.inProgress, p)
		rel = sub.diffs
		c.memo[p] = rel
	}
	prefix := "#/" + strings.Join(c.path, "/")
	for _, d := range rel {
		path := prefix
		if len(c.path) == 0 {
			path = d.path
		} else if len(d.path) > 2 {
			path = prefix + "/" + d.path[2:]
		}
		c.diffs = append(c.diffs, difference{typ: d.typ, path: path})
	}
}

func (c *diffContext) compareTypes(original, update *node) {
	if original.kind != kindCombined && update.kind == kindCombined {
		if len(update.subs) == 1 {
			sub := c.sub()
			sub.compare(original, update.subs[0])
			if sub.compatible() {
				c.diffs = append(c.diffs, sub.diffs...)
				return
			}
		} else if update.criterion == "anyOf" || update.criterion == "oneOf" {
			for _, s := range update.subs {
				sub := c.sub()
				sub.compare(original, s)
				if sub.compatible() {
					c.diffs = append(c.diffs, sub.diffs...)
					c.add(sumTypeExtended)
					return
				}
			}
		}
	} else if original.kind == kindCombined && update.kind != kindCombined {
		if len(original.subs) == 1 {
			sub := c.sub()
			sub.compare(original.subs[0], update)
			if sub.compatible() {
				c.diffs = append(c.diffs, sub.diffs...)
				return
			}
		} else if original.criterion == "allOf" {
			for _, s := range original.subs {
				sub := c.sub()
				sub.compare(s, update)
				if sub.compatible() {
					c.diffs = append(c.diffs, sub.diffs...)
					c.add(productTypeNarrowed)
					return
				}
			}
		}
	}

	if !sameClass(original, update) {
		// TrueSchema extends EmptySchema
		if original.kind == kindFalse || update.kind == kindEmpty || update.kind == kindTrue {
			return
		}
		// Kafka Connect's decimal fix: two schemas marked as bytes are equivalent.
		if original.connectType == "bytes" && update.connectType == "bytes" {
			return
		}
		c.add(typeChanged)
		return
	}

	if original.id != update.id {
		c.add(idChanged)
	}
	if original.title != update.title {
		c.add(titleChanged)
	}
	if original.description != update.description {
		c.add(descriptionChanged)
	}
	if !sameValue(original.def, update.def) {
		c.add(defaultChanged)
	}

	switch original.kind {
	case kindString:
		c.compareString(original, update)
	case kindNumber:
		c.compareNumber(original, update)
	case kindConst:
		if !reflect.DeepEqual(original.constVal, update.constVal) {
			c.addAt("const", enumArrayChanged)
		}
	case kindEnum:
		c.compareEnum(original, update)
	case kindCombined:
		c.compareCombined(original, update)
	case kindNot:
		c.enter("not")
		sub := c.sub()
		sub.compare(update.not, original.not) // reversed: not narrows what it accepts
		if sub.compatible() {
			c.add(notTypeNarrowed)
		} else {
			c.add(notTypeExtended)
		}
		c.leave()
	case kindObject:
		c.compareObject(original, update)
	case kindArray:
		c.compareArray(original, update)
	}
}

// sameClass is SchemaDiff.schemaTypesEqual: the same Everit class.
func sameClass(a, b *node) bool {
	return a.kind == b.kind
}

func sameValue(a, b *any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return reflect.DeepEqual(*a, *b)
}

func (c *diffContext) compareString(o, u *node) {
	compareInt(c, "maxLength", o.maxLength, u.maxLength,
		maxLengthAdded, maxLengthRemoved, maxLengthIncreased, maxLengthDecreased)
	compareInt(c, "minLength", o.minLength, u.minLength,
		minLengthAdded, minLengthRemoved, minLengthIncreased, minLengthDecreased)
	switch {
	case o.pattern == "" && u.pattern != "":
		c.addAt("pattern", patternAdded)
	case o.pattern != "" && u.pattern == "":
		c.addAt("pattern", patternRemoved)
	case o.pattern != u.pattern:
		c.addAt("pattern", patternChanged)
	}
}

func compareInt(c *diffContext, attr string, o, u *int, added, removed, increased, decreased diffType) {
	switch {
	case o == nil && u == nil:
	case o == nil:
		c.addAt(attr, added)
	case u == nil:
		c.addAt(attr, removed)
	case *o < *u:
		c.addAt(attr, increased)
	case *o > *u:
		c.addAt(attr, decreased)
	}
}

func compareRat(c *diffContext, attr string, o, u *big.Rat, added, removed, increased, decreased diffType) {
	switch {
	case o == nil && u == nil:
	case o == nil:
		c.addAt(attr, added)
	case u == nil:
		c.addAt(attr, removed)
	default:
		// As Confluent, compared as doubles (also cheap for huge exponents).
		of, _ := o.Float64()
		uf, _ := u.Float64()
		switch {
		case of < uf:
			c.addAt(attr, increased)
		case of > uf:
			c.addAt(attr, decreased)
		}
	}
}

func (c *diffContext) compareNumber(o, u *node) {
	compareRat(c, "maximum", o.maximum, u.maximum,
		maximumAdded, maximumRemoved, maximumIncreased, maximumDecreased)
	compareRat(c, "minimum", o.minimum, u.minimum,
		minimumAdded, minimumRemoved, minimumIncreased, minimumDecreased)
	compareRat(c, "exclusiveMaximum", o.exclMaximum, u.exclMaximum,
		exclusiveMaximumAdded, exclusiveMaximumRemoved, exclusiveMaximumIncreased, exclusiveMaximumDecreased)
	compareRat(c, "exclusiveMinimum", o.exclMinimum, u.exclMinimum,
		exclusiveMinimumAdded, exclusiveMinimumRemoved, exclusiveMinimumIncreased, exclusiveMinimumDecreased)
	switch {
	case o.mul == nil && u.mul == nil:
	case o.mul == nil:
		c.addAt("multipleOf", multipleOfAdded)
	case u.mul == nil:
		c.addAt("multipleOf", multipleOfRemoved)
	case o.mul.Num().Cmp(u.mul.Num()) == 0 && o.mul.Denom().Cmp(u.mul.Denom()) == 0: // normalized: equal
	case o.mul.Sign() != 0 && isMultiple(u.mul, o.mul):
		c.addAt("multipleOf", multipleOfExpanded)
	case u.mul.Sign() != 0 && isMultiple(o.mul, u.mul):
		c.addAt("multipleOf", multipleOfReduced)
	default:
		c.addAt("multipleOf", multipleOfChanged)
	}
	if o.requiresInteger != u.requiresInteger {
		if o.requiresInteger {
			c.add(typeExtended)
		} else {
			c.add(typeNarrowed)
		}
	}
}

// isMultiple reports whether a is an integer multiple of b (b != 0).
// Values with absurd exponents (over 64 Kibit) are reported as not
// multiples, so that a schema cannot make the check expensive.
func isMultiple(a, b *big.Rat) bool {
	const limit = 1 << 16
	if a.Num().BitLen()+a.Denom().BitLen()+b.Num().BitLen()+b.Denom().BitLen() > limit {
		return false
	}
	q := new(big.Rat).Quo(a, b)
	return q.IsInt()
}

func (c *diffContext) compareEnum(o, u *node) {
	if valuesEqualAsSets(o.enum, u.enum) {
		return
	}
	switch {
	case containsAll(u.enum, o.enum):
		c.addAt("enum", enumArrayExtended)
	case containsAll(o.enum, u.enum):
		c.addAt("enum", enumArrayNarrowed)
	default:
		c.addAt("enum", enumArrayChanged)
	}
}

func containsAll(set, sub []any) bool {
	for _, v := range sub {
		found := false
		for _, w := range set {
			if reflect.DeepEqual(v, w) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func valuesEqualAsSets(a, b []any) bool { return containsAll(a, b) && containsAll(b, a) }

func dedupe(subs []*node) []*node {
	seen := map[string]bool{}
	var out []*node
	for _, s := range subs {
		if s.key != "" && seen[s.key] {
			continue
		}
		seen[s.key] = true
		out = append(out, s)
	}
	return out
}

func (c *diffContext) compareCombined(o, u *node) {
	t := compareCriteria(o, u)
	if t != "" {
		c.add(t)
	}
	if t == combinedTypeChanged {
		return
	}
	os, us := dedupe(o.subs), dedupe(u.subs)
	if len(os) < len(us) {
		if u.criterion == "allOf" {
			c.add(productTypeExtended)
		} else {
			c.add(sumTypeExtended)
		}
	} else if len(os) > len(us) {
		if o.criterion == "anyOf" || o.criterion == "oneOf" {
			c.add(sumTypeNarrowed)
		} else {
			c.add(productTypeNarrowed)
		}
	}
	// Compatible pairs (original i, update j), then a maximum matching.
	edges := make([][]int, len(os))
	diffs := map[[2]int][]difference{}
	for i, osub := range os {
		c.enter(fmt.Sprintf("%s/%d", o.criterion, i))
		for j, usub := range us {
			if *c.steps > maxCompareSteps {
				c.leave()
				return // the check is abandoned (compareSchemas)
			}
			sub := c.sub()
			sub.compare(osub, usub)
			if sub.compatible() {
				edges[i] = append(edges[i], j)
				diffs[[2]int{i, j}] = sub.diffs
			}
		}
		c.leave()
	}
	match := maxMatching(edges, len(us))
	matched := 0
	for i, j := range match {
		if j >= 0 {
			matched++
			c.diffs = append(c.diffs, diffs[[2]int{i, j}]...)
		}
	}
	if matched < min(len(os), len(us)) {
		c.add(combinedTypeSubschemasChanged)
	}
}

// maxMatching is a maximum bipartite matching (augmenting paths): for each
// left vertex the right vertex it is matched to, or -1.
func maxMatching(edges [][]int, right int) []int {
	matchR := make([]int, right)
	for j := range matchR {
		matchR[j] = -1
	}
	var try func(i int, seen []bool) bool
	try = func(i int, seen []bool) bool {
		for _, j := range edges[i] {
			if seen[j] {
				continue
			}
			seen[j] = true
			if matchR[j] < 0 || try(matchR[j], seen) {
				matchR[j] = i
				return true
			}
		}
		return false
	}
	for i := range edges {
		try(i, make([]bool, right))
	}
	matchL := make([]int, len(edges))
	for i := range matchL {
		matchL[i] = -1
	}
	for j, i := range matchR {
		if i >= 0 {
			matchL[i] = j
		}
	}
	return matchL
}

func compareCriteria(o, u *node) diffType {
	oc, uc := o.criterion, u.criterion
	oSingle, uSingle := len(o.subs) == 1, len(u.subs) == 1
	switch {
	case oc == uc:
		return ""
	case uc == "anyOf" || (oSingle && uSingle) || (oSingle && uc == "oneOf") ||
		(uSingle && oc == "allOf"):
		return combinedTypeExtended
	default:
		return combinedTypeChanged
	}
}

func sortedKeys[V any](maps ...map[string]V) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range maps {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}
