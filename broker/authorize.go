package broker

// Authorization of every request, as Kafka's KafkaApis maps APIs to ACL
// operations (authorizer.class.name set; broker/acl has the semantics).
//
// Handle calls authorize before the API's handler. authorize either
//   - answers the whole request itself (a denied group, transactional id
//     or cluster operation: the response Kafka sends for that error), or
//   - removes the resources the caller may not use from the request and
//     returns a post function that adds them back to the handler's
//     response with their authorization error (TOPIC_AUTHORIZATION_FAILED
//     per partition where the response has per-partition errors), hides
//     what the caller may not describe (Metadata, ListGroups, ...) and
//     fills KIP-430's authorized-operations fields.
//
// Added entries go at the end of the response's lists (clients match them
// by name). A FileResponse (zero-copy fetch) keeps its file fields valid:
// only whole topics are appended, and the partition arrays the fields
// point into are not moved.
//
// With no authorizer (b.authz nil) nothing here runs: Handle tests one
// pointer, so produce and fetch allocate nothing more.
//
// The mapping, API by API (resource type, operation; error):
//   Produce         TRANSACTIONAL_ID WRITE (transactional); TOPIC WRITE
//   Fetch           CLUSTER CLUSTER_ACTION (followers); TOPIC READ
//   ListOffsets, OffsetForLeaderEpoch   TOPIC DESCRIBE
//   Metadata        TOPIC DESCRIBE (all-topics: hidden); auto-creation
//                   CLUSTER or TOPIC CREATE
//   OffsetCommit    GROUP READ; TOPIC READ
//   OffsetFetch     GROUP DESCRIBE; TOPIC DESCRIBE (all: hidden)
//   Join/Sync/Heartbeat/LeaveGroup, ConsumerGroupHeartbeat   GROUP READ
//   FindCoordinator GROUP or TRANSACTIONAL_ID DESCRIBE
//   DescribeGroups, ConsumerGroupDescribe, StreamsGroupDescribe   GROUP DESCRIBE
//   StreamsGroupHeartbeat   GROUP READ; TOPIC DESCRIBE on the topology's
//                   topics; internal topic creation CLUSTER or TOPIC
//                   CREATE (checked by the handler: a status, not an error)
//   StreamsGroupTopologyDescriptionUpdate   GROUP READ
//   ListGroups      CLUSTER DESCRIBE, else each GROUP DESCRIBE (filter)
//   CreateTopics    CLUSTER or TOPIC CREATE
//   DeleteTopics, DeleteRecords   TOPIC DELETE
//   InitProducerId  TRANSACTIONAL_ID WRITE; or CLUSTER IDEMPOTENT_WRITE or
//                   WRITE on any topic (KIP-679)
//   AddPartitionsToTxn  TRANSACTIONAL_ID WRITE, TOPIC WRITE (v4+ broker
//                   batches: CLUSTER CLUSTER_ACTION)
//   AddOffsetsToTxn TRANSACTIONAL_ID WRITE, GROUP READ
//   EndTxn          TRANSACTIONAL_ID WRITE
//   TxnOffsetCommit TRANSACTIONAL_ID WRITE, GROUP READ, TOPIC READ
//   WriteTxnMarkers CLUSTER CLUSTER_ACTION
//   Initialize/Read/Write/DeleteShareGroupState, ReadShareGroupStateSummary,
//   FindCoordinator of share-partition keys   CLUSTER CLUSTER_ACTION
//   Describe/Create/DeleteAcls   CLUSTER DESCRIBE / ALTER / ALTER
//   Describe/AlterUserScramCredentials   CLUSTER DESCRIBE / ALTER
//   Describe/AlterClientQuotas   CLUSTER DESCRIBE_CONFIGS / ALTER_CONFIGS
//   DescribeConfigs TOPIC or CLUSTER (brokers) or GROUP DESCRIBE_CONFIGS
//   AlterConfigs, IncrementalAlterConfigs   the same with ALTER_CONFIGS
//   DescribeLogDirs, ListPartitionReassignments, DescribeQuorum   CLUSTER
//                   DESCRIBE (DescribeCluster is not refused: without
//                   DESCRIBE its authorized operations are 0, as Kafka's)
//   ElectLeaders, AlterPartitionReassignments, UnregisterBroker,
//   Add/RemoveRaftVoter, AlterReplicaLogDirs, UpdateFeatures,
//   UnregisterController   CLUSTER ALTER
//   CreatePartitions TOPIC ALTER
//   DeleteGroups    GROUP DELETE
//   OffsetDelete    GROUP DELETE, TOPIC READ
//   DescribeProducers TOPIC READ
//   DescribeTransactions TRANSACTIONAL_ID DESCRIBE; ListTransactions
//                   filters by it
//   DescribeTopicPartitions TOPIC DESCRIBE (hidden when listing)
//   CreateDelegationToken for another owner   USER CREATE_TOKENS
//   DescribeDelegationToken   shows the caller's own tokens, those of users
//                   it has USER DESCRIBE_TOKENS on, and DELEGATION_TOKEN
//                   DESCRIBE by token id (the delegation-token handlers
//                   check ownership for renew and expire)
//   ApiVersions, SaslHandshake, SaslAuthenticate: none.

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/acl"
	"github.com/moldau/moldau/protocol"
)

// newAuthorizer returns the authorizer cfg asks for, nil for none.
func (b *Broker) newAuthorizer() *acl.Authorizer {
	a := b.cfg.Security.Authz
	if !a.Enabled {
		return nil
	}
	z := acl.New(acl.Config{SuperUsers: a.SuperUsers, AllowIfNoACL: a.AllowIfNoACL}, entityACLs{b}, b.logger)
	// A cluster node denies every non-super user until it has caught up
	// with the metadata log the ACLs live in (Handle stops waiting for that
	// after 10 s and serves; the authorizer must not serve a partial set).
	z.SetReadyGate(b.metadataLoaded)
	return z
}

// metadataLoaded reports whether this broker has caught up with the
// cluster metadata (always on a single node).
func (b *Broker) metadataLoaded() bool { return b.raft == nil || b.raft.ready.Load() }

// entityACLs is the authorizer's view of the entity store (kind "acl"). It
// reads b.entities at each call: New picks the store (memory, meta.db, the
// metadata log) after it builds the authorizer.
type entityACLs struct{ b *Broker }

func (e entityACLs) Version() uint64 { return e.b.entities.Version() }

func (e entityACLs) Bindings() []acl.Binding {
	ents := e.b.entities.List(entityACL)
	out := make([]acl.Binding, 0, len(ents))
	for _, ent := range ents {
		bd, err := acl.UnmarshalValue(ent.Value)
		if err != nil {
			e.b.logger.Error("skipping an ACL entity that does not decode", "key", ent.Key, "err", err)
			continue
		}
		out = append(out, bd)
	}
	return out
}

// authz is one request's authorization context.
type authz struct {
	b *Broker
	a *acl.Authorizer
	r acl.Request
}

func (b *Broker) authzFor(req *protocol.Request) authz {
	host := ""
	if req.Conn != nil {
		switch ad := req.Conn.Remote.(type) {
		case *net.TCPAddr:
			host = ad.IP.String()
		case nil:
		default:
			if h, _, err := net.SplitHostPort(ad.String()); err == nil {
				host = h
			}
		}
	}
	return authz{b: b, a: b.authz, r: acl.Request{Principal: req.Conn.Principal(), Host: host}}
}

func (z authz) ok(op acl.Operation, rt acl.ResourceType, name string) bool {
	return z.a.Authorize(z.r, op, rt, name)
}

func (z authz) cluster(op acl.Operation) bool {
	return z.a.Authorize(z.r, op, acl.ResourceCluster, acl.ClusterName)
}

// clusterOperations is KIP-430's cluster field as Kafka fills it: 0
// without DESCRIBE on the cluster.
func (z authz) clusterOperations() int32 {
	if !z.cluster(acl.OpDescribe) {
		return 0
	}
	return z.a.AuthorizedOperations(z.r, acl.ResourceCluster, acl.ClusterName)
}

func (z authz) topic(op acl.Operation, name string) bool { return z.ok(op, acl.ResourceTopic, name) }
func (z authz) group(op acl.Operation, name string) bool { return z.ok(op, acl.ResourceGroup, name) }
func (z authz) txnID(op acl.Operation, name string) bool {
	return z.ok(op, acl.ResourceTransactionalID, name)
}

// topicByID resolves a topic id to its name ("" for an unknown id: the
// handler answers those).
func (z authz) topicByID(id [16]byte) string {
	if t := z.b.topics.getID(id); t != nil {
		return t.name
	}
	return ""
}

// withPost applies post to the reply's response once it exists.
func withPost(reply protocol.Reply, post func(kmsg.Response)) protocol.Reply {
	if post == nil {
		return reply
	}
	if reply.Wait != nil {
		w := reply.Wait
		reply.Wait = func(ctx context.Context) kmsg.Response {
			r := w(ctx)
			if r != nil {
				post(unwrapResponse(r))
			}
			return r
		}
		return reply
	}
	if reply.Resp != nil {
		post(unwrapResponse(reply.Resp))
	}
	return reply
}

func unwrapResponse(r kmsg.Response) kmsg.Response {
	if fr, ok := r.(*protocol.FileResponse); ok {
		return fr.Response
	}
	return r
}

// filter splits s in place into the elements keep accepts (returned first,
// reusing s's array) and the rest (a new slice, nil when none).
func filter[T any](s []T, keep func(*T) bool) (kept, dropped []T) {
	n := 0
	for i := range s {
		if keep(&s[i]) {
			s[n] = s[i]
			n++
		} else {
			dropped = append(dropped, s[i])
		}
	}
	return s[:n], dropped
}

var (
	errTopicAuth   = kerr.TopicAuthorizationFailed.Code
	errGroupAuth   = kerr.GroupAuthorizationFailed.Code
	errClusterAuth = kerr.ClusterAuthorizationFailed.Code
	errTxnAuth     = kerr.TransactionalIDAuthorizationFailed.Code
)

// authorize checks req (see the file comment). deny, when not nil, is the
// whole answer; otherwise post, when not nil, completes the handler's
// response.
func (b *Broker) authorize(req *protocol.Request) (deny *protocol.Reply, post func(kmsg.Response)) {
	z := b.authzFor(req)
	switch r := req.Body.(type) {
	case *kmsg.ProduceRequest:
		return z.produce(r)
	case *kmsg.FetchRequest:
		return z.fetch(r)
	case *kmsg.ListOffsetsRequest:
		return z.listOffsets(r)
	case *kmsg.MetadataRequest:
		return z.metadata(r)
	case *kmsg.OffsetCommitRequest:
		return z.offsetCommit(r)
	case *kmsg.OffsetFetchRequest:
		return z.offsetFetch(r)
	case *kmsg.FindCoordinatorRequest:
		return z.findCoordinator(r)
	case *kmsg.JoinGroupRequest:
		return z.groupOnly(r, r.Group)
	case *kmsg.HeartbeatRequest:
		return z.groupOnly(r, r.Group)
	case *kmsg.LeaveGroupRequest:
		return z.groupOnly(r, r.Group)
	case *kmsg.SyncGroupRequest:
		return z.groupOnly(r, r.Group)
	case *kmsg.ConsumerGroupHeartbeatRequest:
		return z.consumerGroupHeartbeat(r)
	case *kmsg.DescribeGroupsRequest:
		return z.describeGroups(r)
	case *kmsg.ListGroupsRequest:
		return z.listGroups(r)
	case *kmsg.CreateTopicsRequest:
		return z.createTopics(r)
	case *kmsg.DeleteTopicsRequest:
		return z.deleteTopics(r)
	case *kmsg.DeleteRecordsRequest:
		return z.deleteRecords(r)
	case *kmsg.InitProducerIDRequest:
		return z.initProducerID(r)
	case *kmsg.OffsetForLeaderEpochRequest:
		return z.offsetForLeaderEpoch(r)
	case *kmsg.AddPartitionsToTxnRequest:
		return z.addPartitionsToTxn(r)
	case *kmsg.AddOffsetsToTxnRequest:
		if !z.txnID(acl.OpWrite, r.TransactionalID) {
			return errorReply(r, errTxnAuth), nil
		}
		if !z.group(acl.OpRead, r.Group) {
			return errorReply(r, errGroupAuth), nil
		}
	case *kmsg.EndTxnRequest:
		if !z.txnID(acl.OpWrite, r.TransactionalID) {
			return errorReply(r, errTxnAuth), nil
		}
	case *kmsg.TxnOffsetCommitRequest:
		return z.txnOffsetCommit(r)
	case *kmsg.WriteTxnMarkersRequest:
		if !z.cluster(acl.OpClusterAction) {
			return errorReply(r, errClusterAuth), nil
		}
	case *kmsg.InitializeShareGroupStateRequest, *kmsg.ReadShareGroupStateRequest, *kmsg.WriteShareGroupStateRequest,
		*kmsg.DeleteShareGroupStateRequest, *kmsg.ReadShareGroupStateSummaryRequest:
		return z.shareStateAPI(r)
	case *kmsg.DescribeACLsRequest:
		if !z.cluster(acl.OpDescribe) {
			return errorReply(r, errClusterAuth), nil
		}
	case *kmsg.CreateACLsRequest, *kmsg.DeleteACLsRequest:
		if !z.cluster(acl.OpAlter) {
			return errorReply(r, errClusterAuth), nil
		}
	case *kmsg.DescribeConfigsRequest:
		return z.describeConfigs(r)
	case *kmsg.AlterConfigsRequest:
		return z.alterConfigs(r)
	case *kmsg.IncrementalAlterConfigsRequest:
		return z.incrementalAlterConfigs(r)
	case *kmsg.DescribeClientQuotasRequest:
		if !z.cluster(acl.OpDescribeConfigs) {
			return errorReply(r, errClusterAuth), nil
		}
	case *kmsg.AlterClientQuotasRequest:
		if !z.cluster(acl.OpAlterConfigs) {
			return errorReply(r, errClusterAuth), nil
		}
	case *kmsg.DescribeUserSCRAMCredentialsRequest:
		if !z.cluster(acl.OpDescribe) {
			return errorReply(r, errClusterAuth), nil
		}
	case *kmsg.AlterUserSCRAMCredentialsRequest:
		if !z.cluster(acl.OpAlter) {
			return errorReply(r, errClusterAuth), nil
		}
	case *kmsg.CreateDelegationTokenRequest:
		// Creating a token for another owner (KIP-373) needs CREATE_TOKENS
		// on that user.
		if r.OwnerPrincipalName != nil && *r.OwnerPrincipalName != "" {
			typ := "User"
			if r.OwnerPrincipalType != nil && *r.OwnerPrincipalType != "" {
				typ = *r.OwnerPrincipalType
			}
			if owner := typ + ":" + *r.OwnerPrincipalName; owner != z.r.Principal && !z.ok(acl.OpCreateTokens, acl.ResourceUser, owner) {
				return errorReply(r, kerr.DelegationTokenAuthorizationFailed.Code), nil
			}
		}
	case *kmsg.DescribeDelegationTokenRequest:
		return nil, z.describeDelegationTokens
	case *kmsg.ListConfigResourcesRequest:
		return z.listConfigResources(r)
	case *kmsg.DescribeLogDirsRequest, *kmsg.ListPartitionReassignmentsRequest, *kmsg.DescribeQuorumRequest:
		if !z.cluster(acl.OpDescribe) {
			return errorReply(r, errClusterAuth), nil
		}
	case *kmsg.DescribeClusterRequest:
		// Not refused (as Kafka): only the operations need DESCRIBE.
		if r.IncludeClusterAuthorizedOperations {
			return nil, func(resp kmsg.Response) {
				resp.(*kmsg.DescribeClusterResponse).ClusterAuthorizedOperations = z.clusterOperations()
			}
		}
	case *kmsg.ElectLeadersRequest, *kmsg.AlterPartitionAssignmentsRequest, *kmsg.UnregisterBrokerRequest,
		*kmsg.AddRaftVoterRequest, *kmsg.RemoveRaftVoterRequest, *kmsg.AlterReplicaLogDirsRequest,
		*kmsg.UpdateFeaturesRequest, *kmsg.UnregisterControllerRequest:
		if !z.cluster(acl.OpAlter) {
			return errorReply(r, errClusterAuth), nil
		}
	case *kmsg.CreatePartitionsRequest:
		return z.createPartitions(r)
	case *kmsg.DeleteGroupsRequest:
		return z.deleteGroups(r)
	case *kmsg.OffsetDeleteRequest:
		return z.offsetDelete(r)
	case *kmsg.DescribeProducersRequest:
		return z.describeProducers(r)
	case *kmsg.DescribeTransactionsRequest:
		return z.describeTransactions(r)
	case *kmsg.ListTransactionsRequest:
		return nil, func(resp kmsg.Response) {
			lr := resp.(*kmsg.ListTransactionsResponse)
			lr.TransactionStates, _ = filter(lr.TransactionStates, func(s *kmsg.ListTransactionsResponseTransactionState) bool {
				return z.txnID(acl.OpDescribe, s.TransactionalID)
			})
		}
	case *kmsg.ConsumerGroupDescribeRequest:
		return z.consumerGroupDescribe(r)
	case *kmsg.StreamsGroupHeartbeatRequest:
		return z.streamsGroupHeartbeat(r)
	case *kmsg.StreamsGroupDescribeRequest:
		return z.streamsGroupDescribe(r)
	case *kmsg.StreamsGroupTopologyDescriptionUpdateRequest:
		return z.groupOnly(r, r.Group)

	case *kmsg.ShareGroupHeartbeatRequest, *kmsg.ShareGroupDescribeRequest, *kmsg.DescribeShareGroupOffsetsRequest,
		*kmsg.AlterShareGroupOffsetsRequest, *kmsg.DeleteShareGroupOffsetsRequest:
		return z.shareGroupAPIs(r)
	case *kmsg.DescribeTopicPartitionsRequest:
		return z.describeTopicPartitions(r)
	case *kmsg.ShareFetchRequest:
		return z.shareFetch(r)
	case *kmsg.ShareAcknowledgeRequest:
		return z.shareAcknowledge(r)
	}
	return nil, nil
}

// errorReply answers the whole request with code, the way Kafka's
// getErrorResponse does for the API: the top-level error code where the
// response has one, else every entry's.
func errorReply(req kmsg.Request, code int16) *protocol.Reply {
	resp := req.ResponseKind()
	switch r := resp.(type) {
	case *kmsg.AddOffsetsToTxnResponse:
		r.ErrorCode = code
	case *kmsg.EndTxnResponse:
		r.ErrorCode = code
	case *kmsg.JoinGroupResponse:
		r.ErrorCode = code
		if r.Version >= 7 {
			r.Protocol = nil
		}
	case *kmsg.HeartbeatResponse:
		r.ErrorCode = code
	case *kmsg.LeaveGroupResponse:
		r.ErrorCode = code
	case *kmsg.SyncGroupResponse:
		r.ErrorCode = code
	case *kmsg.ConsumerGroupHeartbeatResponse:
		r.ErrorCode = code
	case *kmsg.StreamsGroupHeartbeatResponse:
		r.ErrorCode = code
		r.MemberEpoch = -1
	case *kmsg.StreamsGroupTopologyDescriptionUpdateResponse:
		r.ErrorCode = code
	case *kmsg.InitProducerIDResponse:
		r.ErrorCode = code
		r.ProducerID, r.ProducerEpoch = -1, -1
	case *kmsg.DescribeACLsResponse:
		r.ErrorCode = code
	case *kmsg.CreateACLsResponse:
		for range req.(*kmsg.CreateACLsRequest).Creations {
			c := kmsg.NewCreateACLsResponseResult()
			c.ErrorCode = code
			r.Results = append(r.Results, c)
		}
	case *kmsg.DeleteACLsResponse:
		for range req.(*kmsg.DeleteACLsRequest).Filters {
			c := kmsg.NewDeleteACLsResponseResult()
			c.ErrorCode = code
			r.Results = append(r.Results, c)
		}
	case *kmsg.DescribeClientQuotasResponse:
		r.ErrorCode = code
	case *kmsg.AlterClientQuotasResponse:
		for _, e := range req.(*kmsg.AlterClientQuotasRequest).Entries {
			re := kmsg.NewAlterClientQuotasResponseEntry()
			re.ErrorCode = code
			for _, en := range e.Entity {
				ree := kmsg.NewAlterClientQuotasResponseEntryEntity()
				ree.Type, ree.Name = en.Type, en.Name
				re.Entity = append(re.Entity, ree)
			}
			r.Entries = append(r.Entries, re)
		}
	case *kmsg.DescribeUserSCRAMCredentialsResponse:
		r.ErrorCode = code
	case *kmsg.AlterUserSCRAMCredentialsResponse:
		ar := req.(*kmsg.AlterUserSCRAMCredentialsRequest)
		seen := make(map[string]bool)
		add := func(user string) {
			if !seen[user] {
				seen[user] = true
				res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
				res.User, res.ErrorCode = user, code
				r.Results = append(r.Results, res)
			}
		}
		for _, d := range ar.Deletions {
			add(d.Name)
		}
		for _, u := range ar.Upsertions {
			add(u.Name)
		}
	case *kmsg.CreateDelegationTokenResponse:
		r.ErrorCode = code
	case *kmsg.DescribeLogDirsResponse:
		r.ErrorCode = code
	case *kmsg.ListPartitionReassignmentsResponse:
		r.ErrorCode = code
	case *kmsg.AlterPartitionAssignmentsResponse:
		r.ErrorCode = code
	case *kmsg.DescribeQuorumResponse:
		r.ErrorCode = code
	case *kmsg.AlterReplicaLogDirsResponse:
		alterReplicaLogDirsErrors(req.(*kmsg.AlterReplicaLogDirsRequest), r, code)
	case *kmsg.UnregisterControllerResponse:
		r.ErrorCode = code
	case *kmsg.UpdateFeaturesResponse:
		updateFeaturesErrors(req.(*kmsg.UpdateFeaturesRequest), r, code)
	case *kmsg.DescribeClusterResponse:
		r.ErrorCode = code
	case *kmsg.UnregisterBrokerResponse:
		r.ErrorCode = code
	case *kmsg.AddRaftVoterResponse:
		r.ErrorCode = code
	case *kmsg.RemoveRaftVoterResponse:
		r.ErrorCode = code
	case *kmsg.ElectLeadersResponse:
		r.ErrorCode = code
		for _, t := range req.(*kmsg.ElectLeadersRequest).Topics {
			rt := kmsg.NewElectLeadersResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewElectLeadersResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			r.Topics = append(r.Topics, rt)
		}
	case *kmsg.WriteTxnMarkersResponse:
		for _, m := range req.(*kmsg.WriteTxnMarkersRequest).Markers {
			rm := kmsg.NewWriteTxnMarkersResponseMarker()
			rm.ProducerID = m.ProducerID
			for _, t := range m.Topics {
				rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
					rp.Partition, rp.ErrorCode = p, code
					rt.Partitions = append(rt.Partitions, rp)
				}
				rm.Topics = append(rm.Topics, rt)
			}
			r.Markers = append(r.Markers, rm)
		}
	case *kmsg.OffsetDeleteResponse:
		r.ErrorCode = code
	case *kmsg.ProduceResponse:
		for _, t := range req.(*kmsg.ProduceRequest).Topics {
			r.Topics = append(r.Topics, produceErrorTopic(t, code))
		}
	case *kmsg.OffsetCommitResponse:
		for _, t := range req.(*kmsg.OffsetCommitRequest).Topics {
			r.Topics = append(r.Topics, offsetCommitErrorTopic(t, code))
		}
	case *kmsg.TxnOffsetCommitResponse:
		for _, t := range req.(*kmsg.TxnOffsetCommitRequest).Topics {
			r.Topics = append(r.Topics, txnOffsetCommitErrorTopic(t, code))
		}
	case *kmsg.AddPartitionsToTxnResponse:
		ar := req.(*kmsg.AddPartitionsToTxnRequest)
		if ar.Version >= 4 {
			r.ErrorCode = code
			break
		}
		r.Topics = addPartitionsErrorTopics(ar.Topics, func(string) int16 { return code })
	case *kmsg.FetchResponse:
		fr := req.(*kmsg.FetchRequest)
		r.SessionID = 0
		for _, t := range fr.Topics {
			r.Topics = append(r.Topics, fetchErrorTopic(t, code))
		}
	}
	return &protocol.Reply{Resp: resp}
}

// describeDelegationTokens keeps the tokens the caller may see, as Kafka:
// its own (owner, requester or renewer), those of a user it has
// DESCRIBE_TOKENS on, and those it has DESCRIBE on by token id.
func (z authz) describeDelegationTokens(resp kmsg.Response) {
	dr := resp.(*kmsg.DescribeDelegationTokenResponse)
	dr.TokenDetails, _ = filter(dr.TokenDetails, func(t *kmsg.DescribeDelegationTokenResponseTokenDetail) bool {
		owner := t.PrincipalType + ":" + t.PrincipalName
		if owner == z.r.Principal || t.TokenRequesterPrincipalType+":"+t.TokenRequesterPrincipalName == z.r.Principal {
			return true
		}
		for _, rn := range t.Renewers {
			if rn.PrincipalType+":"+rn.PrincipalName == z.r.Principal {
				return true
			}
		}
		return z.ok(acl.OpDescribeTokens, acl.ResourceUser, owner) || z.ok(acl.OpDescribe, acl.ResourceDelegationToken, t.TokenID)
	})
}

func (z authz) groupOnly(r kmsg.Request, group string) (*protocol.Reply, func(kmsg.Response)) {
	if !z.group(acl.OpRead, group) {
		return errorReply(r, errGroupAuth), nil
	}
	return nil, nil
}

// ---- produce and fetch

func produceErrorTopic(t kmsg.ProduceRequestTopic, code int16) kmsg.ProduceResponseTopic {
	rt := kmsg.NewProduceResponseTopic()
	rt.Topic, rt.TopicID = t.Topic, t.TopicID
	for _, p := range t.Partitions {
		rp := kmsg.NewProduceResponseTopicPartition()
		rp.Partition, rp.ErrorCode, rp.BaseOffset = p.Partition, code, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	return rt
}

func (z authz) produce(r *kmsg.ProduceRequest) (*protocol.Reply, func(kmsg.Response)) {
	if r.TransactionID != nil && *r.TransactionID != "" && !z.txnID(acl.OpWrite, *r.TransactionID) {
		if r.Acks == 0 {
			return &protocol.Reply{NoResponse: true, Close: true}, nil
		}
		return errorReply(r, errTxnAuth), nil
	}
	var denied []kmsg.ProduceRequestTopic
	r.Topics, denied = filter(r.Topics, func(t *kmsg.ProduceRequestTopic) bool {
		name := t.Topic
		if r.Version >= 13 {
			if name = z.topicByID(t.TopicID); name == "" {
				return true
			}
		}
		return z.topic(acl.OpWrite, name)
	})
	if denied == nil {
		return nil, nil
	}
	if r.Acks == 0 {
		// Kafka closes an acks=0 producer's connection on an error.
		return &protocol.Reply{NoResponse: true, Close: true}, nil
	}
	return nil, func(resp kmsg.Response) {
		pr := resp.(*kmsg.ProduceResponse)
		for _, t := range denied {
			pr.Topics = append(pr.Topics, produceErrorTopic(t, errTopicAuth))
		}
	}
}

func fetchErrorTopic(t kmsg.FetchRequestTopic, code int16) kmsg.FetchResponseTopic {
	rt := kmsg.NewFetchResponseTopic()
	rt.Topic, rt.TopicID = t.Topic, t.TopicID
	for _, p := range t.Partitions {
		rp := kmsg.NewFetchResponseTopicPartition()
		rp.Partition, rp.ErrorCode, rp.HighWatermark = p.Partition, code, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	return rt
}

func (z authz) fetch(r *kmsg.FetchRequest) (*protocol.Reply, func(kmsg.Response)) {
	if r.ReplicaID >= 0 || r.ReplicaState.ID >= 0 {
		if !z.cluster(acl.OpClusterAction) {
			return errorReply(r, errTopicAuth), nil
		}
		return nil, nil
	}
	// Fetch sessions (KIP-227) are declined while the authorizer is on: an
	// incremental fetch names only changed partitions, so the others would
	// be served without a check, where Kafka re-checks every partition of
	// the session on every fetch. Answering a session-opening fetch as a
	// sessionless full fetch (session id 0, as a broker with a full session
	// cache does) keeps every fetch carrying every partition, each checked
	// below. Clients go on with full fetches.
	if r.SessionEpoch == 0 {
		r.SessionEpoch = -1
	}
	var denied []kmsg.FetchRequestTopic
	r.Topics, denied = filter(r.Topics, func(t *kmsg.FetchRequestTopic) bool {
		name := t.Topic
		if r.Version >= 13 {
			if name = z.topicByID(t.TopicID); name == "" {
				return true
			}
		}
		return z.topic(acl.OpRead, name)
	})
	if denied == nil {
		return nil, nil
	}
	if len(r.Topics) == 0 && r.SessionID == 0 {
		// Nothing left to wait for: answer at once, as Kafka does.
		r.MaxWaitMillis = 0
	}
	return nil, func(resp kmsg.Response) {
		fr := resp.(*kmsg.FetchResponse)
		for _, t := range denied {
			fr.Topics = append(fr.Topics, fetchErrorTopic(t, errTopicAuth))
		}
	}
}

func (z authz) listOffsets(r *kmsg.ListOffsetsRequest) (*protocol.Reply, func(kmsg.Response)) {
	var denied []kmsg.ListOffsetsRequestTopic
	r.Topics, denied = filter(r.Topics, func(t *kmsg.ListOffsetsRequestTopic) bool { return z.topic(acl.OpDescribe, t.Topic) })
	if denied == nil {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		lr := resp.(*kmsg.ListOffsetsResponse)
		for _, t := range denied {
			rt := kmsg.NewListOffsetsResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewListOffsetsResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, errTopicAuth
				rp.Timestamp, rp.Offset, rp.LeaderEpoch = -1, -1, -1
				rt.Partitions = append(rt.Partitions, rp)
			}
			lr.Topics = append(lr.Topics, rt)
		}
	}
}

func (z authz) offsetForLeaderEpoch(r *kmsg.OffsetForLeaderEpochRequest) (*protocol.Reply, func(kmsg.Response)) {
	code := errTopicAuth
	follower := r.Version >= 3 && r.ReplicaID >= 0
	if follower {
		if z.cluster(acl.OpClusterAction) {
			return nil, nil
		}
		code = errClusterAuth // every partition, as Kafka's error response
	}
	var denied []kmsg.OffsetForLeaderEpochRequestTopic
	r.Topics, denied = filter(r.Topics, func(t *kmsg.OffsetForLeaderEpochRequestTopic) bool {
		return !follower && z.topic(acl.OpDescribe, t.Topic)
	})
	if denied == nil {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		or := resp.(*kmsg.OffsetForLeaderEpochResponse)
		for _, t := range denied {
			rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
				rp.Partition, rp.ErrorCode, rp.LeaderEpoch, rp.EndOffset = p.Partition, code, -1, -1
				rt.Partitions = append(rt.Partitions, rp)
			}
			or.Topics = append(or.Topics, rt)
		}
	}
}

func (z authz) deleteRecords(r *kmsg.DeleteRecordsRequest) (*protocol.Reply, func(kmsg.Response)) {
	var denied []kmsg.DeleteRecordsRequestTopic
	r.Topics, denied = filter(r.Topics, func(t *kmsg.DeleteRecordsRequestTopic) bool { return z.topic(acl.OpDelete, t.Topic) })
	if denied == nil {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		dr := resp.(*kmsg.DeleteRecordsResponse)
		for _, t := range denied {
			rt := kmsg.NewDeleteRecordsResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewDeleteRecordsResponseTopicPartition()
				rp.Partition, rp.ErrorCode, rp.LowWatermark = p.Partition, errTopicAuth, -1
				rt.Partitions = append(rt.Partitions, rp)
			}
			dr.Topics = append(dr.Topics, rt)
		}
	}
}

func (z authz) describeProducers(r *kmsg.DescribeProducersRequest) (*protocol.Reply, func(kmsg.Response)) {
	var denied []kmsg.DescribeProducersRequestTopic
	r.Topics, denied = filter(r.Topics, func(t *kmsg.DescribeProducersRequestTopic) bool { return z.topic(acl.OpRead, t.Topic) })
	if denied == nil {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		dr := resp.(*kmsg.DescribeProducersResponse)
		for _, t := range denied {
			rt := kmsg.NewDescribeProducersResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewDescribeProducersResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, errTopicAuth
				rt.Partitions = append(rt.Partitions, rp)
			}
			dr.Topics = append(dr.Topics, rt)
		}
	}
}
