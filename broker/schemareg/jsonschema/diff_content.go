package jsonschema

// Objects and arrays: Confluent's ObjectSchemaDiff and ArraySchemaDiff with
// the content models. An object's content model is open when it takes any
// other property (additionalProperties absent or true, no
// patternProperties, unevaluatedProperties absent or true), partially open
// when a schema covers the other properties (patternProperties, an
// additionalProperties schema or an unevaluatedProperties schema), and
// closed otherwise. Arrays the same with additionalItems/unevaluatedItems.
//
// A property added to an open writer's model may meet data of any shape
// under that name, so it is incompatible (PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL)
// unless its schema is empty; a property removed is fine when the reader's
// model is open and not when it is closed.

func isOpenObject(n *node) bool {
	if !n.additionalAllowed || n.additional != nil || len(n.patternProperties) > 0 {
		return false
	}
	return n.unevalProperties == nil || isEmptyKind(n.unevalProperties)
}

func isEmptyKind(n *node) bool { return n.kind == kindEmpty || n.kind == kindTrue }

// partialObjectSchema is the schema that covers property name in a
// partially open content model, or nil.
func partialObjectSchema(n *node, name string) *node {
	for _, pp := range n.patternProperties {
		if pp.re.MatchString(name) {
			return pp.schema
		}
	}
	if n.additional != nil {
		return n.additional
	}
	if n.additionalAllowed && n.additional == nil {
		if u := n.unevalProperties; u != nil && u.kind != kindFalse && !isEmptyKind(u) {
			return u
		}
	}
	return nil
}

func (c *diffContext) compareObject(o, u *node) {
	c.compareRequired(o, u)
	c.compareProperties(o, u)
	c.compareDependencies(o, u)
	c.enter("additionalProperties")
	switch {
	case o.additionalAllowed != u.additionalAllowed:
		if u.additionalAllowed {
			c.add(additionalPropertiesAdded)
		} else {
			c.add(additionalPropertiesRemoved)
		}
	case o.additional == nil && u.additional != nil:
		c.add(additionalPropertiesNarrowed)
	case u.additional == nil && o.additional != nil:
		c.add(additionalPropertiesExtended)
	default:
		c.compare(o.additional, u.additional)
	}
	c.leave()
	c.compareUnevaluated("unevaluatedProperties", o.unevalProperties, u.unevalProperties,
		unevaluatedPropertiesAdded, unevaluatedPropertiesRemoved,
		unevaluatedPropertiesExtended, unevaluatedPropertiesNarrowed)
	compareInt(c, "maxProperties", o.maxProps, u.maxProps,
		maxPropertiesAdded, maxPropertiesRemoved, maxPropertiesIncreased, maxPropertiesDecreased)
	compareInt(c, "minProperties", o.minProps, u.minProps,
		minPropertiesAdded, minPropertiesRemoved, minPropertiesIncreased, minPropertiesDecreased)
}

func (c *diffContext) compareUnevaluated(attr string, o, u *node, added, removed, extended, narrowed diffType) {
	if o == nil && u == nil {
		return
	}
	c.enter(attr)
	defer c.leave()
	switch {
	case o == nil:
		if u.kind == kindFalse {
			c.add(removed)
		} else {
			c.add(narrowed)
		}
	case u == nil:
		if o.kind == kindFalse {
			c.add(added)
		} else {
			c.add(extended)
		}
	case o.kind == kindFalse && u.kind != kindFalse:
		c.add(added)
	case o.kind != kindFalse && u.kind == kindFalse:
		c.add(removed)
	case isEmptyKind(o) && !isEmptyKind(u):
		c.add(narrowed)
	case !isEmptyKind(o) && isEmptyKind(u):
		c.add(extended)
	default:
		c.compare(o, u)
	}
}

func (c *diffContext) compareRequired(o, u *node) {
	c.enter("required")
	defer c.leave()
	for _, name := range sortedKeys(o.properties) {
		if _, ok := u.properties[name]; !ok {
			continue
		}
		c.enter(name)
		switch {
		case o.required[name] && !u.required[name]:
			c.add(requiredAttributeRemoved)
		case !o.required[name] && u.required[name]:
			if u.propertyDefault[name] {
				c.add(requiredAttributeWithDefaultAdded)
			} else {
				c.add(requiredAttributeAdded)
			}
		}
		c.leave()
	}
}

func (c *diffContext) compareProperties(o, u *node) {
	c.enter("properties")
	defer c.leave()
	for _, name := range sortedKeys(o.properties, u.properties) {
		c.enter(name)
		os, us := o.properties[name], u.properties[name]
		switch {
		case us == nil:
			// Removed: only the reader's (update's) content model matters.
			if isOpenObject(u) {
				c.add(propertyRemovedFromOpenContentModel)
			} else if partial := partialObjectSchema(u, name); partial != nil {
				sub := c.sub()
				sub.compare(os, partial)
				c.diffs = append(c.diffs, sub.diffs...)
				if sub.compatible() {
					c.add(propertyRemovedIsCoveredByPartiallyOpen)
				} else {
					c.add(propertyRemovedNotCoveredByPartiallyOpen)
				}
			} else if os.kind == kindFalse {
				c.add(propertyWithFalseRemovedFromClosedContentModel)
			} else {
				c.add(propertyRemovedFromClosedContentModel)
			}
		case os == nil:
			// Added: only the writer's (original's) content model matters.
			if isOpenObject(o) {
				if isEmptyKind(us) {
					c.add(propertyWithEmptySchemaAddedToOpenContentModel)
				} else {
					c.add(propertyAddedToOpenContentModel)
				}
			} else {
				if partial := partialObjectSchema(o, name); partial != nil {
					sub := c.sub()
					sub.compare(partial, us)
					c.diffs = append(c.diffs, sub.diffs...)
					if sub.compatible() {
						c.add(propertyAddedIsCoveredByPartiallyOpen)
					} else {
						c.add(propertyAddedNotCoveredByPartiallyOpen)
					}
				}
				switch {
				case u.required[name] && u.propertyDefault[name]:
					c.add(requiredPropertyWithDefaultAddedToUnopenContentModel)
				case u.required[name]:
					c.add(requiredPropertyAddedToUnopenContentModel)
				default:
					c.add(optionalPropertyAddedToUnopenContentModel)
				}
			}
		default:
			c.compare(os, us)
		}
		c.leave()
	}
}

func (c *diffContext) compareDependencies(o, u *node) {
	c.enter("dependencies")
	defer c.leave()
	for _, name := range sortedKeys(o.propertyDeps, u.propertyDeps) {
		c.enter(name)
		od, oOK := o.propertyDeps[name]
		ud, uOK := u.propertyDeps[name]
		switch {
		case !uOK:
			c.add(dependencyArrayRemoved)
		case !oOK:
			c.add(dependencyArrayAdded)
		case stringSetsEqual(od, ud):
		case stringSetContains(ud, od):
			c.add(dependencyArrayExtended)
		case stringSetContains(od, ud):
			c.add(dependencyArrayNarrowed)
		default:
			c.add(dependencyArrayChanged)
		}
		c.leave()
	}
	for _, name := range sortedKeys(o.schemaDeps, u.schemaDeps) {
		c.enter(name)
		os, us := o.schemaDeps[name], u.schemaDeps[name]
		switch {
		case us == nil:
			c.add(dependencySchemaRemoved)
		case os == nil:
			c.add(dependencySchemaAdded)
		default:
			c.compare(os, us)
		}
		c.leave()
	}
}

func stringSetContains(set, sub []string) bool {
	in := map[string]bool{}
	for _, s := range set {
		in[s] = true
	}
	for _, s := range sub {
		if !in[s] {
			return false
		}
	}
	return true
}

func stringSetsEqual(a, b []string) bool { return stringSetContains(a, b) && stringSetContains(b, a) }

func isOpenArray(n *node) bool {
	if !n.additionalItemsAllowed || n.additionalItems != nil {
		return false
	}
	return n.unevalItems == nil || isEmptyKind(n.unevalItems)
}

func partialArraySchema(n *node) *node {
	if n.additionalItems != nil {
		return n.additionalItems
	}
	if n.additionalItemsAllowed {
		if u := n.unevalItems; u != nil && u.kind != kindFalse && !isEmptyKind(u) {
			return u
		}
	}
	return nil
}

func (c *diffContext) compareArray(o, u *node) {
	c.enter("items")
	c.compare(o.allItems, u.allItems)
	c.leave()
	c.compareTuple(o, u)
	c.enter("additionalItems")
	switch {
	case o.additionalItemsAllowed != u.additionalItemsAllowed:
		if o.additionalItemsAllowed {
			c.add(additionalItemsRemoved)
		} else {
			c.add(additionalItemsAdded)
		}
	case o.additionalItems == nil && u.additionalItems != nil:
		c.add(additionalItemsNarrowed)
	case u.additionalItems == nil && o.additionalItems != nil:
		c.add(additionalItemsExtended)
	default:
		c.compare(o.additionalItems, u.additionalItems)
	}
	c.leave()
	c.compareUnevaluated("unevaluatedItems", o.unevalItems, u.unevalItems,
		unevaluatedItemsAdded, unevaluatedItemsRemoved,
		unevaluatedItemsExtended, unevaluatedItemsNarrowed)
	compareInt(c, "maxItems", o.maxItems, u.maxItems,
		maxItemsAdded, maxItemsRemoved, maxItemsIncreased, maxItemsDecreased)
	compareInt(c, "minItems", o.minItems, u.minItems,
		minItemsAdded, minItemsRemoved, minItemsIncreased, minItemsDecreased)
	if o.uniqueItems != u.uniqueItems {
		if o.uniqueItems {
			c.addAt("uniqueItems", uniqueItemsRemoved)
		} else {
			c.addAt("uniqueItems", uniqueItemsAdded)
		}
	}
	compareInt(c, "maxContains", o.maxContains, u.maxContains,
		maxContainsAdded, maxContainsRemoved, maxContainsIncreased, maxContainsDecreased)
	compareInt(c, "minContains", o.minContains, u.minContains,
		minContainsAdded, minContainsRemoved, minContainsIncreased, minContainsDecreased)
}

// compareTuple compares positional item schemas (items: [...] or prefixItems).
func (c *diffContext) compareTuple(o, u *node) {
	n := min(len(o.itemSchemas), len(u.itemSchemas))
	for i := 0; i < len(o.itemSchemas) || i < len(u.itemSchemas); i++ {
		c.enter("items/" + itoa(i))
		switch {
		case i < n:
			c.compare(o.itemSchemas[i], u.itemSchemas[i])
		case i < len(o.itemSchemas): // removed
			os := o.itemSchemas[i]
			if isOpenArray(u) {
				c.add(itemRemovedFromOpenContentModel)
			} else if partial := partialArraySchema(u); partial != nil {
				sub := c.sub()
				sub.compare(os, partial)
				c.diffs = append(c.diffs, sub.diffs...)
				if sub.compatible() {
					c.add(itemRemovedIsCoveredByPartiallyOpen)
				} else {
					c.add(itemRemovedNotCoveredByPartiallyOpen)
				}
			} else if os.kind == kindFalse {
				c.add(itemWithFalseRemovedFromClosedContent)
			} else {
				c.add(itemRemovedFromClosedContentModel)
			}
		default: // added
			us := u.itemSchemas[i]
			if isOpenArray(o) {
				if isEmptyKind(us) {
					c.add(itemWithEmptySchemaAddedToOpenContent)
				} else {
					c.add(itemAddedToOpenContentModel)
				}
			} else if partial := partialArraySchema(o); partial != nil {
				sub := c.sub()
				sub.compare(partial, us)
				c.diffs = append(c.diffs, sub.diffs...)
				if sub.compatible() {
					c.add(itemAddedIsCoveredByPartiallyOpen)
				} else {
					c.add(itemAddedNotCoveredByPartiallyOpen)
				}
			} else {
				c.add(itemAddedToClosedContentModel)
			}
		}
		c.leave()
	}
}
