package broker

// Per-API authorization of the APIs with groups, transactional ids,
// configs and admin operations (authorize.go has the mapping and the
// mechanism).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/acl"
	"github.com/moldau/moldau/protocol"
)

// ---- Metadata and DescribeTopicPartitions

func (z authz) metadata(r *kmsg.MetadataRequest) (*protocol.Reply, func(kmsg.Response)) {
	all := r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0)
	var denied []kmsg.MetadataResponseTopic
	onlyDenied := false
	if !all {
		allowCreate := z.b.cfg.AutoCreateTopics && (r.Version < 4 || r.AllowAutoTopicCreation)
		deny := func(name *string, id [16]byte) {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic, mt.TopicID = name, id
			mt.ErrorCode = errTopicAuth
			mt.AuthorizedOperations = opsNotAsked
			mt.Partitions = []kmsg.MetadataResponseTopicPartition{}
			denied = append(denied, mt)
		}
		r.Topics, _ = filter(r.Topics, func(t *kmsg.MetadataRequestTopic) bool {
			if t.Topic == nil {
				name := z.topicByID(t.TopicID)
				if name == "" || z.topic(acl.OpDescribe, name) {
					return true
				}
				deny(nil, t.TopicID)
				return false
			}
			name := *t.Topic
			if !z.topic(acl.OpDescribe, name) {
				deny(t.Topic, [16]byte{})
				return false
			}
			if allowCreate && validTopicName(name) && z.b.topics.get(name) == nil &&
				!z.cluster(acl.OpCreate) && !z.topic(acl.OpCreate, name) {
				deny(t.Topic, [16]byte{})
				return false
			}
			return true
		})
		// v0 reads an empty list as "all topics".
		onlyDenied = r.Version == 0 && len(r.Topics) == 0
	}
	return nil, func(resp kmsg.Response) {
		mr := resp.(*kmsg.MetadataResponse)
		if onlyDenied {
			mr.Topics = mr.Topics[:0]
		}
		if all {
			mr.Topics, _ = filter(mr.Topics, func(t *kmsg.MetadataResponseTopic) bool {
				return t.Topic != nil && z.topic(acl.OpDescribe, *t.Topic)
			})
		}
		if r.IncludeTopicAuthorizedOperations {
			for i := range mr.Topics {
				if t := &mr.Topics[i]; t.ErrorCode == 0 && t.Topic != nil {
					t.AuthorizedOperations = z.a.AuthorizedOperations(z.r, acl.ResourceTopic, *t.Topic)
				}
			}
		}
		mr.Topics = append(mr.Topics, denied...)
		if r.IncludeClusterAuthorizedOperations {
			mr.AuthorizedOperations = z.clusterOperations()
		}
	}
}

func (z authz) describeTopicPartitions(r *kmsg.DescribeTopicPartitionsRequest) (*protocol.Reply, func(kmsg.Response)) {
	all := len(r.Topics) == 0
	var denied []kmsg.DescribeTopicPartitionsRequestTopic
	if !all {
		r.Topics, denied = filter(r.Topics, func(t *kmsg.DescribeTopicPartitionsRequestTopic) bool { return z.topic(acl.OpDescribe, t.Topic) })
	}
	onlyDenied := !all && len(r.Topics) == 0
	return nil, func(resp kmsg.Response) {
		dr := resp.(*kmsg.DescribeTopicPartitionsResponse)
		if onlyDenied {
			dr.Topics, dr.NextCursor = dr.Topics[:0], nil
		}
		if all {
			dr.Topics, _ = filter(dr.Topics, func(t *kmsg.DescribeTopicPartitionsResponseTopic) bool {
				return t.Topic != nil && z.topic(acl.OpDescribe, *t.Topic)
			})
			// The cursor must not name a topic the caller cannot
			// describe (Kafka pages over the describable topics only):
			// move it to the next describable topic, or end the listing.
			if c := dr.NextCursor; c != nil && !z.topic(acl.OpDescribe, c.Topic) {
				dr.NextCursor = nil
				var next string
				for _, t := range z.b.topics.all() {
					if t.name > c.Topic && (next == "" || t.name < next) && z.topic(acl.OpDescribe, t.name) {
						next = t.name
					}
				}
				if next != "" {
					nc := kmsg.NewDescribeTopicPartitionsResponseNextCursor()
					nc.Topic, nc.Partition = next, 0
					dr.NextCursor = &nc
				}
			}
		}
		for i := range dr.Topics {
			if t := &dr.Topics[i]; t.ErrorCode == 0 && t.Topic != nil {
				t.AuthorizedOperations = z.a.AuthorizedOperations(z.r, acl.ResourceTopic, *t.Topic)
			}
		}
		for _, t := range denied {
			rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
			name := t.Topic
			rt.Topic, rt.ErrorCode = &name, errTopicAuth
			rt.AuthorizedOperations = opsNotAsked
			dr.Topics = append(dr.Topics, rt)
		}
	}
}

// ---- groups

func offsetCommitErrorTopic(t kmsg.OffsetCommitRequestTopic, code int16) kmsg.OffsetCommitResponseTopic {
	rt := kmsg.NewOffsetCommitResponseTopic()
	rt.Topic, rt.TopicID = t.Topic, t.TopicID
	for _, p := range t.Partitions {
		rp := kmsg.NewOffsetCommitResponseTopicPartition()
		rp.Partition, rp.ErrorCode = p.Partition, code
		rt.Partitions = append(rt.Partitions, rp)
	}
	return rt
}

func (z authz) offsetCommit(r *kmsg.OffsetCommitRequest) (*protocol.Reply, func(kmsg.Response)) {
	if !z.group(acl.OpRead, r.Group) {
		return errorReply(r, errGroupAuth), nil
	}
	var denied []kmsg.OffsetCommitRequestTopic
	r.Topics, denied = filter(r.Topics, func(t *kmsg.OffsetCommitRequestTopic) bool {
		name := t.Topic
		if r.Version >= 10 {
			if name = z.topicByID(t.TopicID); name == "" {
				return true
			}
		}
		return z.topic(acl.OpRead, name)
	})
	if denied == nil {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		or := resp.(*kmsg.OffsetCommitResponse)
		for _, t := range denied {
			or.Topics = append(or.Topics, offsetCommitErrorTopic(t, errTopicAuth))
		}
	}
}

func (z authz) offsetFetch(r *kmsg.OffsetFetchRequest) (*protocol.Reply, func(kmsg.Response)) {
	if r.Version < 8 {
		if !z.group(acl.OpDescribe, r.Group) {
			resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
			resp.ErrorCode = errGroupAuth
			if r.Version < 2 {
				for _, t := range r.Topics {
					resp.Topics = append(resp.Topics, offsetFetchErrorTopic(t.Topic, t.Partitions, errGroupAuth))
				}
			}
			return &protocol.Reply{Resp: resp}, nil
		}
		all := r.Topics == nil
		var denied []kmsg.OffsetFetchRequestTopic
		if !all {
			r.Topics, denied = filter(r.Topics, func(t *kmsg.OffsetFetchRequestTopic) bool { return z.topic(acl.OpDescribe, t.Topic) })
		}
		return nil, func(resp kmsg.Response) {
			or := resp.(*kmsg.OffsetFetchResponse)
			if all {
				or.Topics, _ = filter(or.Topics, func(t *kmsg.OffsetFetchResponseTopic) bool { return z.topic(acl.OpDescribe, t.Topic) })
			}
			for _, t := range denied {
				or.Topics = append(or.Topics, offsetFetchErrorTopic(t.Topic, t.Partitions, errTopicAuth))
			}
		}
	}
	type groupDenied struct {
		all    bool
		topics []kmsg.OffsetFetchRequestGroupTopic
	}
	perGroup := make(map[string]groupDenied)
	var deniedGroups []string
	r.Groups, _ = filter(r.Groups, func(g *kmsg.OffsetFetchRequestGroup) bool {
		if !z.group(acl.OpDescribe, g.Group) {
			deniedGroups = append(deniedGroups, g.Group)
			return false
		}
		d := groupDenied{all: g.Topics == nil}
		if !d.all {
			g.Topics, d.topics = filter(g.Topics, func(t *kmsg.OffsetFetchRequestGroupTopic) bool {
				name := t.Topic
				if r.Version >= 10 {
					if name = z.topicByID(t.TopicID); name == "" {
						return true
					}
				}
				return z.topic(acl.OpDescribe, name)
			})
		}
		perGroup[g.Group] = d
		return true
	})
	return nil, func(resp kmsg.Response) {
		or := resp.(*kmsg.OffsetFetchResponse)
		for i := range or.Groups {
			g := &or.Groups[i]
			d, ok := perGroup[g.Group]
			if !ok {
				continue
			}
			if d.all {
				g.Topics, _ = filter(g.Topics, func(t *kmsg.OffsetFetchResponseGroupTopic) bool {
					name := t.Topic
					if r.Version >= 10 {
						name = z.topicByID(t.TopicID)
					}
					return z.topic(acl.OpDescribe, name)
				})
			}
			for _, t := range d.topics {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic, rt.TopicID = t.Topic, t.TopicID
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition, rp.Offset, rp.ErrorCode = p, -1, errTopicAuth
					rt.Partitions = append(rt.Partitions, rp)
				}
				g.Topics = append(g.Topics, rt)
			}
		}
		for _, name := range deniedGroups {
			g := kmsg.NewOffsetFetchResponseGroup()
			g.Group, g.ErrorCode = name, errGroupAuth
			or.Groups = append(or.Groups, g)
		}
	}
}

func offsetFetchErrorTopic(topic string, partitions []int32, code int16) kmsg.OffsetFetchResponseTopic {
	rt := kmsg.NewOffsetFetchResponseTopic()
	rt.Topic = topic
	for _, p := range partitions {
		rp := kmsg.NewOffsetFetchResponseTopicPartition()
		rp.Partition, rp.Offset, rp.ErrorCode = p, -1, code
		rt.Partitions = append(rt.Partitions, rp)
	}
	return rt
}

func (z authz) findCoordinator(r *kmsg.FindCoordinatorRequest) (*protocol.Reply, func(kmsg.Response)) {
	allowed := func(key string) (int16, bool) {
		switch r.CoordinatorType {
		case 0:
			return errGroupAuth, z.group(acl.OpDescribe, key)
		case 1:
			return errTxnAuth, z.txnID(acl.OpDescribe, key)
		case 2: // share-partition keys: inter-broker only, as Kafka's
			return errClusterAuth, z.cluster(acl.OpClusterAction)
		}
		return 0, true
	}
	if r.Version < 4 {
		if code, ok := allowed(r.CoordinatorKey); !ok {
			resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
			resp.ErrorCode, resp.NodeID, resp.Port = code, -1, -1
			return &protocol.Reply{Resp: resp}, nil
		}
		return nil, nil
	}
	var denied []kmsg.FindCoordinatorResponseCoordinator
	r.CoordinatorKeys, _ = filter(r.CoordinatorKeys, func(k *string) bool {
		code, ok := allowed(*k)
		if !ok {
			c := kmsg.NewFindCoordinatorResponseCoordinator()
			c.Key, c.NodeID, c.Port, c.ErrorCode = *k, -1, -1, code
			denied = append(denied, c)
		}
		return ok
	})
	if denied == nil {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		fr := resp.(*kmsg.FindCoordinatorResponse)
		fr.Coordinators = append(fr.Coordinators, denied...)
	}
}

func (z authz) consumerGroupHeartbeat(r *kmsg.ConsumerGroupHeartbeatRequest) (*protocol.Reply, func(kmsg.Response)) {
	if !z.group(acl.OpRead, r.Group) {
		return errorReply(r, errGroupAuth), nil
	}
	for _, t := range r.SubscribedTopicNames {
		if !z.topic(acl.OpDescribe, t) {
			return errorReply(r, errTopicAuth), nil
		}
	}
	return nil, nil
}

func (z authz) describeGroups(r *kmsg.DescribeGroupsRequest) (*protocol.Reply, func(kmsg.Response)) {
	var denied []string
	r.Groups, denied = filter(r.Groups, func(g *string) bool { return z.group(acl.OpDescribe, *g) })
	if denied == nil && !r.IncludeAuthorizedOperations {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		dr := resp.(*kmsg.DescribeGroupsResponse)
		if r.IncludeAuthorizedOperations {
			for i := range dr.Groups {
				g := &dr.Groups[i]
				g.AuthorizedOperations = z.a.AuthorizedOperations(z.r, acl.ResourceGroup, g.Group)
			}
		}
		for _, name := range denied {
			g := kmsg.NewDescribeGroupsResponseGroup()
			g.Group, g.ErrorCode, g.AuthorizedOperations = name, errGroupAuth, opsNotAsked
			dr.Groups = append(dr.Groups, g)
		}
	}
}

func (z authz) consumerGroupDescribe(r *kmsg.ConsumerGroupDescribeRequest) (*protocol.Reply, func(kmsg.Response)) {
	var denied []string
	r.Groups, denied = filter(r.Groups, func(g *string) bool { return z.group(acl.OpDescribe, *g) })
	if denied == nil && !r.IncludeAuthorizedOperations {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		dr := resp.(*kmsg.ConsumerGroupDescribeResponse)
		if r.IncludeAuthorizedOperations {
			for i := range dr.Groups {
				g := &dr.Groups[i]
				g.AuthorizedOperations = z.a.AuthorizedOperations(z.r, acl.ResourceGroup, g.Group)
			}
		}
		for _, name := range denied {
			g := kmsg.NewConsumerGroupDescribeResponseGroup()
			g.Group, g.ErrorCode, g.AuthorizedOperations = name, errGroupAuth, opsNotAsked
			dr.Groups = append(dr.Groups, g)
		}
	}
}

func (z authz) listGroups(r *kmsg.ListGroupsRequest) (*protocol.Reply, func(kmsg.Response)) {
	if z.cluster(acl.OpDescribe) {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		lr := resp.(*kmsg.ListGroupsResponse)
		lr.Groups, _ = filter(lr.Groups, func(g *kmsg.ListGroupsResponseGroup) bool { return z.group(acl.OpDescribe, g.Group) })
	}
}

func (z authz) deleteGroups(r *kmsg.DeleteGroupsRequest) (*protocol.Reply, func(kmsg.Response)) {
	var denied []string
	r.Groups, denied = filter(r.Groups, func(g *string) bool { return z.group(acl.OpDelete, *g) })
	if denied == nil {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		dr := resp.(*kmsg.DeleteGroupsResponse)
		for _, name := range denied {
			g := kmsg.NewDeleteGroupsResponseGroup()
			g.Group, g.ErrorCode = name, errGroupAuth
			dr.Groups = append(dr.Groups, g)
		}
	}
}

func (z authz) offsetDelete(r *kmsg.OffsetDeleteRequest) (*protocol.Reply, func(kmsg.Response)) {
	if !z.group(acl.OpDelete, r.Group) {
		return errorReply(r, errGroupAuth), nil
	}
	var denied []kmsg.OffsetDeleteRequestTopic
	r.Topics, denied = filter(r.Topics, func(t *kmsg.OffsetDeleteRequestTopic) bool { return z.topic(acl.OpRead, t.Topic) })
	if denied == nil {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		or := resp.(*kmsg.OffsetDeleteResponse)
		for _, t := range denied {
			rt := kmsg.NewOffsetDeleteResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetDeleteResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, errTopicAuth
				rt.Partitions = append(rt.Partitions, rp)
			}
			or.Topics = append(or.Topics, rt)
		}
	}
}

// ---- topics

func (z authz) createTopics(r *kmsg.CreateTopicsRequest) (*protocol.Reply, func(kmsg.Response)) {
	var denied []kmsg.CreateTopicsRequestTopic
	if !z.cluster(acl.OpCreate) {
		r.Topics, denied = filter(r.Topics, func(t *kmsg.CreateTopicsRequestTopic) bool { return z.topic(acl.OpCreate, t.Topic) })
	}
	return nil, func(resp kmsg.Response) {
		cr := resp.(*kmsg.CreateTopicsResponse)
		if r.Version >= 5 {
			for i := range cr.Topics {
				t := &cr.Topics[i]
				if t.ErrorCode == 0 && !z.topic(acl.OpDescribeConfigs, t.Topic) {
					t.ConfigErrorCode, t.Configs = errTopicAuth, nil
				}
			}
		}
		for _, t := range denied {
			rt := kmsg.NewCreateTopicsResponseTopic()
			rt.Topic, rt.ErrorCode = t.Topic, errTopicAuth
			rt.NumPartitions, rt.ReplicationFactor = -1, -1
			cr.Topics = append(cr.Topics, rt)
		}
	}
}

func (z authz) deleteTopics(r *kmsg.DeleteTopicsRequest) (*protocol.Reply, func(kmsg.Response)) {
	var deniedNames []string
	var denied []kmsg.DeleteTopicsRequestTopic
	if r.Version < 6 {
		r.TopicNames, deniedNames = filter(r.TopicNames, func(t *string) bool { return z.topic(acl.OpDelete, *t) })
	} else {
		r.Topics, denied = filter(r.Topics, func(t *kmsg.DeleteTopicsRequestTopic) bool {
			if t.Topic == nil {
				name := z.topicByID(t.TopicID)
				return name == "" || z.topic(acl.OpDelete, name)
			}
			return z.topic(acl.OpDelete, *t.Topic)
		})
	}
	if denied == nil && deniedNames == nil {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		dr := resp.(*kmsg.DeleteTopicsResponse)
		for _, name := range deniedNames {
			rt := kmsg.NewDeleteTopicsResponseTopic()
			n := name
			rt.Topic, rt.ErrorCode = &n, errTopicAuth
			dr.Topics = append(dr.Topics, rt)
		}
		for _, t := range denied {
			rt := kmsg.NewDeleteTopicsResponseTopic()
			rt.Topic, rt.TopicID, rt.ErrorCode = t.Topic, t.TopicID, errTopicAuth
			dr.Topics = append(dr.Topics, rt)
		}
	}
}

func (z authz) createPartitions(r *kmsg.CreatePartitionsRequest) (*protocol.Reply, func(kmsg.Response)) {
	var denied []kmsg.CreatePartitionsRequestTopic
	r.Topics, denied = filter(r.Topics, func(t *kmsg.CreatePartitionsRequestTopic) bool { return z.topic(acl.OpAlter, t.Topic) })
	if denied == nil {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		cr := resp.(*kmsg.CreatePartitionsResponse)
		for _, t := range denied {
			rt := kmsg.NewCreatePartitionsResponseTopic()
			rt.Topic, rt.ErrorCode = t.Topic, errTopicAuth
			cr.Topics = append(cr.Topics, rt)
		}
	}
}

// ---- configs

// listConfigResources: DESCRIBE_CONFIGS on the cluster, as Kafka's
// handleListConfigResources.
func (z authz) listConfigResources(r *kmsg.ListConfigResourcesRequest) (*protocol.Reply, func(kmsg.Response)) {
	if z.cluster(acl.OpDescribeConfigs) {
		return nil, nil
	}
	resp := r.ResponseKind().(*kmsg.ListConfigResourcesResponse)
	resp.ErrorCode = errClusterAuth
	reply := respond(resp)
	return &reply, nil
}

// aclConfigResource maps a config resource to its ACL resource and the error
// for a denial: topics to TOPIC, brokers and broker loggers (and client
// metrics) to CLUSTER, groups to GROUP.
func aclConfigResource(typ kmsg.ConfigResourceType, name string) (acl.ResourceType, string, int16) {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		return acl.ResourceTopic, name, errTopicAuth
	case kmsg.ConfigResourceTypeGroupConfig:
		return acl.ResourceGroup, name, errGroupAuth
	}
	return acl.ResourceCluster, acl.ClusterName, errClusterAuth
}

type deniedConfig struct {
	typ  kmsg.ConfigResourceType
	name string
	code int16
}

func (z authz) configAllowed(op acl.Operation, typ kmsg.ConfigResourceType, name string, denied *[]deniedConfig) bool {
	rt, rname, code := aclConfigResource(typ, name)
	if z.ok(op, rt, rname) {
		return true
	}
	*denied = append(*denied, deniedConfig{typ, name, code})
	return false
}

func (z authz) describeConfigs(r *kmsg.DescribeConfigsRequest) (*protocol.Reply, func(kmsg.Response)) {
	var denied []deniedConfig
	r.Resources, _ = filter(r.Resources, func(res *kmsg.DescribeConfigsRequestResource) bool {
		return z.configAllowed(acl.OpDescribeConfigs, res.ResourceType, res.ResourceName, &denied)
	})
	if denied == nil {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		dr := resp.(*kmsg.DescribeConfigsResponse)
		for _, d := range denied {
			rr := kmsg.NewDescribeConfigsResponseResource()
			rr.ResourceType, rr.ResourceName, rr.ErrorCode = d.typ, d.name, d.code
			dr.Resources = append(dr.Resources, rr)
		}
	}
}

func (z authz) alterConfigs(r *kmsg.AlterConfigsRequest) (*protocol.Reply, func(kmsg.Response)) {
	var denied []deniedConfig
	r.Resources, _ = filter(r.Resources, func(res *kmsg.AlterConfigsRequestResource) bool {
		return z.configAllowed(acl.OpAlterConfigs, res.ResourceType, res.ResourceName, &denied)
	})
	if denied == nil {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		ar := resp.(*kmsg.AlterConfigsResponse)
		for _, d := range denied {
			rr := kmsg.NewAlterConfigsResponseResource()
			rr.ResourceType, rr.ResourceName, rr.ErrorCode = d.typ, d.name, d.code
			ar.Resources = append(ar.Resources, rr)
		}
	}
}

func (z authz) incrementalAlterConfigs(r *kmsg.IncrementalAlterConfigsRequest) (*protocol.Reply, func(kmsg.Response)) {
	var denied []deniedConfig
	r.Resources, _ = filter(r.Resources, func(res *kmsg.IncrementalAlterConfigsRequestResource) bool {
		return z.configAllowed(acl.OpAlterConfigs, res.ResourceType, res.ResourceName, &denied)
	})
	if denied == nil {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		ar := resp.(*kmsg.IncrementalAlterConfigsResponse)
		for _, d := range denied {
			rr := kmsg.NewIncrementalAlterConfigsResponseResource()
			rr.ResourceType, rr.ResourceName, rr.ErrorCode = d.typ, d.name, d.code
			ar.Resources = append(ar.Resources, rr)
		}
	}
}

// ---- transactions

func (z authz) initProducerID(r *kmsg.InitProducerIDRequest) (*protocol.Reply, func(kmsg.Response)) {
	if r.TransactionalID != nil && *r.TransactionalID != "" {
		if !z.txnID(acl.OpWrite, *r.TransactionalID) {
			return errorReply(r, errTxnAuth), nil
		}
		return nil, nil
	}
	if !z.cluster(acl.OpIdempotentWrite) && !z.a.AuthorizeAny(z.r, acl.OpWrite, acl.ResourceTopic) {
		return errorReply(r, errClusterAuth), nil
	}
	return nil, nil
}

func addPartitionsErrorTopics(topics []kmsg.AddPartitionsToTxnRequestTopic, code func(topic string) int16) []kmsg.AddPartitionsToTxnResponseTopic {
	out := make([]kmsg.AddPartitionsToTxnResponseTopic, 0, len(topics))
	for _, t := range topics {
		rt := kmsg.NewAddPartitionsToTxnResponseTopic()
		rt.Topic = t.Topic
		c := code(t.Topic)
		for _, p := range t.Partitions {
			rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p, c
			rt.Partitions = append(rt.Partitions, rp)
		}
		out = append(out, rt)
	}
	return out
}

func (z authz) addPartitionsToTxn(r *kmsg.AddPartitionsToTxnRequest) (*protocol.Reply, func(kmsg.Response)) {
	if r.Version >= 4 {
		if !z.cluster(acl.OpClusterAction) {
			return errorReply(r, errClusterAuth), nil
		}
		return nil, nil
	}
	if !z.txnID(acl.OpWrite, r.TransactionalID) {
		return errorReply(r, errTxnAuth), nil
	}
	deniedAny := false
	denied := make(map[string]bool)
	for _, t := range r.Topics {
		if !z.topic(acl.OpWrite, t.Topic) {
			denied[t.Topic], deniedAny = true, true
		}
	}
	if !deniedAny {
		return nil, nil
	}
	// Kafka adds nothing then: the denied partitions get
	// TOPIC_AUTHORIZATION_FAILED, the others OPERATION_NOT_ATTEMPTED.
	resp := r.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	resp.Topics = addPartitionsErrorTopics(r.Topics, func(topic string) int16 {
		if denied[topic] {
			return errTopicAuth
		}
		return operationNotAttempted
	})
	return &protocol.Reply{Resp: resp}, nil
}

const operationNotAttempted int16 = 55 // OPERATION_NOT_ATTEMPTED

func txnOffsetCommitErrorTopic(t kmsg.TxnOffsetCommitRequestTopic, code int16) kmsg.TxnOffsetCommitResponseTopic {
	rt := kmsg.NewTxnOffsetCommitResponseTopic()
	rt.Topic, rt.TopicID = t.Topic, t.TopicID
	for _, p := range t.Partitions {
		rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
		rp.Partition, rp.ErrorCode = p.Partition, code
		rt.Partitions = append(rt.Partitions, rp)
	}
	return rt
}

func (z authz) txnOffsetCommit(r *kmsg.TxnOffsetCommitRequest) (*protocol.Reply, func(kmsg.Response)) {
	if !z.txnID(acl.OpWrite, r.TransactionalID) {
		return errorReply(r, errTxnAuth), nil
	}
	if !z.group(acl.OpRead, r.Group) {
		return errorReply(r, errGroupAuth), nil
	}
	var denied []kmsg.TxnOffsetCommitRequestTopic
	r.Topics, denied = filter(r.Topics, func(t *kmsg.TxnOffsetCommitRequestTopic) bool {
		name := t.Topic
		if r.Version >= 6 {
			if name = z.topicByID(t.TopicID); name == "" {
				return true
			}
		}
		return z.topic(acl.OpRead, name)
	})
	if denied == nil {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		tr := resp.(*kmsg.TxnOffsetCommitResponse)
		for _, t := range denied {
			tr.Topics = append(tr.Topics, txnOffsetCommitErrorTopic(t, errTopicAuth))
		}
	}
}

func (z authz) describeTransactions(r *kmsg.DescribeTransactionsRequest) (*protocol.Reply, func(kmsg.Response)) {
	var denied []string
	r.TransactionalIDs, denied = filter(r.TransactionalIDs, func(id *string) bool { return z.txnID(acl.OpDescribe, *id) })
	return nil, func(resp kmsg.Response) {
		dr := resp.(*kmsg.DescribeTransactionsResponse)
		for i := range dr.TransactionStates {
			s := &dr.TransactionStates[i]
			s.Topics, _ = filter(s.Topics, func(t *kmsg.DescribeTransactionsResponseTransactionStateTopic) bool {
				return z.topic(acl.OpDescribe, t.Topic)
			})
		}
		for _, id := range denied {
			s := kmsg.NewDescribeTransactionsResponseTransactionState()
			s.TransactionalID, s.ErrorCode = id, errTxnAuth
			dr.TransactionStates = append(dr.TransactionStates, s)
		}
	}
}

// ---- The share coordinator's inter-broker APIs (83-87)

// shareStateAPI checks InitializeShareGroupState, ReadShareGroupState,
// WriteShareGroupState, DeleteShareGroupState and
// ReadShareGroupStateSummary: CLUSTER_ACTION on the cluster, as Kafka's;
// denied, every partition asked about gets CLUSTER_AUTHORIZATION_FAILED.
func (z authz) shareStateAPI(req kmsg.Request) (*protocol.Reply, func(kmsg.Response)) {
	if z.cluster(acl.OpClusterAction) {
		return nil, nil
	}
	resp := req.ResponseKind()
	switch r := req.(type) {
	case *kmsg.InitializeShareGroupStateRequest:
		out := resp.(*kmsg.InitializeShareGroupStateResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewInitializeShareGroupStateResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewInitializeShareGroupStateResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, errClusterAuth
				rt.Partitions = append(rt.Partitions, rp)
			}
			out.Topics = append(out.Topics, rt)
		}
	case *kmsg.ReadShareGroupStateRequest:
		out := resp.(*kmsg.ReadShareGroupStateResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewReadShareGroupStateResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewReadShareGroupStateResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, errClusterAuth
				rt.Partitions = append(rt.Partitions, rp)
			}
			out.Topics = append(out.Topics, rt)
		}
	case *kmsg.WriteShareGroupStateRequest:
		out := resp.(*kmsg.WriteShareGroupStateResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewWriteShareGroupStateResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewWriteShareGroupStateResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, errClusterAuth
				rt.Partitions = append(rt.Partitions, rp)
			}
			out.Topics = append(out.Topics, rt)
		}
	case *kmsg.DeleteShareGroupStateRequest:
		out := resp.(*kmsg.DeleteShareGroupStateResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewDeleteShareGroupStateResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewDeleteShareGroupStateResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, errClusterAuth
				rt.Partitions = append(rt.Partitions, rp)
			}
			out.Topics = append(out.Topics, rt)
		}
	case *kmsg.ReadShareGroupStateSummaryRequest:
		out := resp.(*kmsg.ReadShareGroupStateSummaryResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewReadShareGroupStateSummaryResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewReadShareGroupStateSummaryResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, errClusterAuth
				rt.Partitions = append(rt.Partitions, rp)
			}
			out.Topics = append(out.Topics, rt)
		}
	}
	return &protocol.Reply{Resp: resp}, nil
}

// streamsGroupHeartbeat is Kafka's: READ on the group, DESCRIBE on every
// topic the topology names (CREATE of internal topics: the handler).
func (z authz) streamsGroupHeartbeat(r *kmsg.StreamsGroupHeartbeatRequest) (*protocol.Reply, func(kmsg.Response)) {
	if !z.group(acl.OpRead, r.Group) {
		return errorReply(r, errGroupAuth), nil
	}
	if r.Topology != nil {
		for _, st := range r.Topology.Subtopologies {
			names := append(append([]string{}, st.SourceTopics...), st.RepartitionSinkTopics...)
			for _, t := range st.StateChangelogTopics {
				names = append(names, t.Topic)
			}
			for _, t := range st.RepartitionSourceTopics {
				names = append(names, t.Topic)
			}
			for _, n := range names {
				if !z.topic(acl.OpDescribe, n) {
					return errorReply(r, errTopicAuth), nil
				}
			}
		}
	}
	return nil, nil
}

func (z authz) streamsGroupDescribe(r *kmsg.StreamsGroupDescribeRequest) (*protocol.Reply, func(kmsg.Response)) {
	var denied []string
	r.Groups, denied = filter(r.Groups, func(g *string) bool { return z.group(acl.OpDescribe, *g) })
	if denied == nil && !r.IncludeAuthorizedOperations {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		dr := resp.(*kmsg.StreamsGroupDescribeResponse)
		if r.IncludeAuthorizedOperations {
			for i := range dr.Groups {
				g := &dr.Groups[i]
				g.AuthorizedOperations = z.a.AuthorizedOperations(z.r, acl.ResourceGroup, g.Group)
			}
		}
		for _, name := range denied {
			g := kmsg.NewStreamsGroupDescribeResponseGroup()
			g.Group, g.ErrorCode, g.AuthorizedOperations = name, errGroupAuth, opsNotAsked
			dr.Groups = append(dr.Groups, g)
		}
	}
}

// ---- ShareFetch and ShareAcknowledge: READ on the group, then READ on
// each topic (KafkaApis); a denied topic's partitions are answered
// TOPIC_AUTHORIZATION_FAILED and never reach the share session.

func (z authz) shareFetch(r *kmsg.ShareFetchRequest) (*protocol.Reply, func(kmsg.Response)) {
	if r.GroupID == nil || !z.group(acl.OpRead, *r.GroupID) {
		resp := r.ResponseKind().(*kmsg.ShareFetchResponse)
		resp.ErrorCode = errGroupAuth
		reply := respond(resp)
		return &reply, nil
	}
	var denied []kmsg.ShareFetchRequestTopic
	r.Topics, denied = filter(r.Topics, func(t *kmsg.ShareFetchRequestTopic) bool {
		name := z.topicByID(t.TopicID)
		return name == "" || z.topic(acl.OpRead, name)
	})
	r.ForgottenTopicsData, _ = filter(r.ForgottenTopicsData, func(t *kmsg.ShareFetchRequestForgottenTopicsData) bool {
		name := z.topicByID(t.TopicID)
		return name == "" || z.topic(acl.OpRead, name)
	})
	if len(denied) == 0 {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		sr := resp.(*kmsg.ShareFetchResponse)
		if sr.ErrorCode != 0 {
			return
		}
		for _, t := range denied {
			rt := kmsg.NewShareFetchResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewShareFetchResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, errTopicAuth
				if len(p.AcknowledgementBatches) > 0 {
					rp.AcknowledgeErrorCode = errTopicAuth
				}
				rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = -1, -1
				rp.Records = []byte{}
				rt.Partitions = append(rt.Partitions, rp)
			}
			sr.Topics = append(sr.Topics, rt)
		}
	}
}

func (z authz) shareAcknowledge(r *kmsg.ShareAcknowledgeRequest) (*protocol.Reply, func(kmsg.Response)) {
	if r.GroupID == nil || !z.group(acl.OpRead, *r.GroupID) {
		resp := r.ResponseKind().(*kmsg.ShareAcknowledgeResponse)
		resp.ErrorCode = errGroupAuth
		reply := respond(resp)
		return &reply, nil
	}
	var denied []kmsg.ShareAcknowledgeRequestTopic
	r.Topics, denied = filter(r.Topics, func(t *kmsg.ShareAcknowledgeRequestTopic) bool {
		name := z.topicByID(t.TopicID)
		return name == "" || z.topic(acl.OpRead, name)
	})
	if len(denied) == 0 {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		sr := resp.(*kmsg.ShareAcknowledgeResponse)
		if sr.ErrorCode != 0 {
			return
		}
		for _, t := range denied {
			rt := kmsg.NewShareAcknowledgeResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewShareAcknowledgeResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, errTopicAuth
				rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = -1, -1
				rt.Partitions = append(rt.Partitions, rp)
			}
			sr.Topics = append(sr.Topics, rt)
		}
	}
}

// ---- share groups (KIP-932), as KafkaApis authorizes them

func (z authz) shareGroupAPIs(req kmsg.Request) (*protocol.Reply, func(kmsg.Response)) {
	switch r := req.(type) {
	case *kmsg.ShareGroupHeartbeatRequest:
		// READ on the group; DESCRIBE on every subscribed topic.
		resp := r.ResponseKind().(*kmsg.ShareGroupHeartbeatResponse)
		if !z.group(acl.OpRead, r.GroupID) {
			resp.ErrorCode = errGroupAuth
			return &protocol.Reply{Resp: resp}, nil
		}
		for _, t := range r.SubscribedTopicNames {
			if !z.topic(acl.OpDescribe, t) {
				resp.ErrorCode = errTopicAuth
				return &protocol.Reply{Resp: resp}, nil
			}
		}
	case *kmsg.ShareGroupDescribeRequest:
		// DESCRIBE on each group; a group showing a topic the caller may
		// not describe is answered TOPIC_AUTHORIZATION_FAILED.
		var denied []string
		r.GroupIDs, denied = filter(r.GroupIDs, func(g *string) bool { return z.group(acl.OpDescribe, *g) })
		return nil, func(resp kmsg.Response) {
			dr := resp.(*kmsg.ShareGroupDescribeResponse)
			for i := range dr.Groups {
				g := &dr.Groups[i]
				if g.ErrorCode != 0 {
					continue
				}
				if r.IncludeAuthorizedOperations {
					g.AuthorizedOperations = z.a.AuthorizedOperations(z.r, acl.ResourceGroup, g.GroupID)
				}
				hidden := false
				for _, m := range g.Members {
					for _, tp := range m.Assignment.TopicPartitions {
						hidden = hidden || !z.topic(acl.OpDescribe, tp.Topic)
					}
				}
				if hidden {
					msg := "The group has described topic(s) that the client is not authorized to describe."
					id := g.GroupID
					*g = kmsg.NewShareGroupDescribeResponseGroup()
					g.GroupID, g.ErrorCode, g.ErrorMessage, g.AuthorizedOperations = id, errTopicAuth, &msg, opsNotAsked
				}
			}
			for _, name := range denied {
				g := kmsg.NewShareGroupDescribeResponseGroup()
				g.GroupID, g.ErrorCode, g.AuthorizedOperations = name, errGroupAuth, opsNotAsked
				dr.Groups = append(dr.Groups, g)
			}
		}
	case *kmsg.DescribeShareGroupOffsetsRequest:
		// DESCRIBE on each group; DESCRIBE on each topic asked about (an
		// all-topics request is filtered afterwards).
		var deniedGroups []string
		deniedTopics := map[string][]kmsg.DescribeShareGroupOffsetsRequestGroupTopic{}
		r.Groups, _ = filter(r.Groups, func(g *kmsg.DescribeShareGroupOffsetsRequestGroup) bool {
			if !z.group(acl.OpDescribe, g.GroupID) {
				deniedGroups = append(deniedGroups, g.GroupID)
				return false
			}
			if g.Topics != nil {
				var d []kmsg.DescribeShareGroupOffsetsRequestGroupTopic
				g.Topics, d = filter(g.Topics, func(t *kmsg.DescribeShareGroupOffsetsRequestGroupTopic) bool { return z.topic(acl.OpDescribe, t.Topic) })
				if d != nil {
					deniedTopics[g.GroupID] = d
				}
			}
			return true
		})
		return nil, func(resp kmsg.Response) {
			dr := resp.(*kmsg.DescribeShareGroupOffsetsResponse)
			for i := range dr.Groups {
				g := &dr.Groups[i]
				g.Topics, _ = filter(g.Topics, func(t *kmsg.DescribeShareGroupOffsetsResponseGroupTopic) bool {
					return z.topic(acl.OpDescribe, t.Topic)
				})
				for _, t := range deniedTopics[g.GroupID] {
					rt := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopic()
					rt.Topic = t.Topic
					for _, p := range t.Partitions {
						rp := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopicPartition()
						rp.Partition, rp.StartOffset, rp.Lag, rp.ErrorCode = p, -1, -1, errTopicAuth
						rt.Partitions = append(rt.Partitions, rp)
					}
					g.Topics = append(g.Topics, rt)
				}
			}
			for _, id := range deniedGroups {
				g := kmsg.NewDescribeShareGroupOffsetsResponseGroup()
				g.GroupID, g.ErrorCode = id, errGroupAuth
				dr.Groups = append(dr.Groups, g)
			}
		}
	case *kmsg.AlterShareGroupOffsetsRequest:
		// READ on the group; READ on each topic.
		if !z.group(acl.OpRead, r.GroupID) {
			resp := r.ResponseKind().(*kmsg.AlterShareGroupOffsetsResponse)
			resp.ErrorCode = errGroupAuth
			return &protocol.Reply{Resp: resp}, nil
		}
		var denied []kmsg.AlterShareGroupOffsetsRequestTopic
		r.Topics, denied = filter(r.Topics, func(t *kmsg.AlterShareGroupOffsetsRequestTopic) bool { return z.topic(acl.OpRead, t.Topic) })
		if denied == nil {
			return nil, nil
		}
		return nil, func(resp kmsg.Response) {
			ar := resp.(*kmsg.AlterShareGroupOffsetsResponse)
			if ar.ErrorCode != 0 {
				return
			}
			for _, t := range denied {
				rt := kmsg.NewAlterShareGroupOffsetsResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewAlterShareGroupOffsetsResponseTopicPartition()
					rp.Partition, rp.ErrorCode = p.Partition, errTopicAuth
					rt.Partitions = append(rt.Partitions, rp)
				}
				ar.Topics = append(ar.Topics, rt)
			}
		}
	case *kmsg.DeleteShareGroupOffsetsRequest:
		// DELETE on the group; READ on each topic.
		if !z.group(acl.OpDelete, r.GroupID) {
			resp := r.ResponseKind().(*kmsg.DeleteShareGroupOffsetsResponse)
			resp.ErrorCode = errGroupAuth
			return &protocol.Reply{Resp: resp}, nil
		}
		var denied []kmsg.DeleteShareGroupOffsetsRequestTopic
		r.Topics, denied = filter(r.Topics, func(t *kmsg.DeleteShareGroupOffsetsRequestTopic) bool { return z.topic(acl.OpRead, t.Topic) })
		if denied == nil {
			return nil, nil
		}
		return nil, func(resp kmsg.Response) {
			dr := resp.(*kmsg.DeleteShareGroupOffsetsResponse)
			if dr.ErrorCode != 0 {
				return
			}
			for _, t := range denied {
				rt := kmsg.NewDeleteShareGroupOffsetsResponseTopic()
				rt.Topic, rt.ErrorCode = t.Topic, errTopicAuth
				dr.Topics = append(dr.Topics, rt)
			}
		}
	}
	return nil, nil
}

// ---- AlterReplicaLogDirs and UpdateFeatures

// alterReplicaLogDirsErrors answers every requested partition with code,
// grouped by topic, as Kafka does without CLUSTER ALTER.
func alterReplicaLogDirsErrors(req *kmsg.AlterReplicaLogDirsRequest, resp *kmsg.AlterReplicaLogDirsResponse, code int16) {
	at := map[string]int{}
	seen := map[string]map[int32]bool{}
	for _, d := range req.Dirs {
		for _, t := range d.Topics {
			i, ok := at[t.Topic]
			if !ok {
				i = len(resp.Topics)
				at[t.Topic] = i
				seen[t.Topic] = map[int32]bool{}
				rt := kmsg.NewAlterReplicaLogDirsResponseTopic()
				rt.Topic = t.Topic
				resp.Topics = append(resp.Topics, rt)
			}
			for _, p := range t.Partitions {
				if seen[t.Topic][p] {
					continue
				}
				seen[t.Topic][p] = true
				rp := kmsg.NewAlterReplicaLogDirsResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, code
				resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
			}
		}
	}
}

// updateFeaturesErrors answers an UpdateFeatures with a top-level code and
// no per-feature results, as Kafka's UpdateFeaturesRequest.getErrorResponse.
func updateFeaturesErrors(_ *kmsg.UpdateFeaturesRequest, resp *kmsg.UpdateFeaturesResponse, code int16) {
	resp.ErrorCode = code
	if e := kerr.ErrorForCode(code); e != nil {
		resp.ErrorMessage = kmsg.StringPtr(e.(*kerr.Error).Description)
	}
}
