package broker

// Every (operation, resource type) pair Kafka checks a request for, tried
// with franz-go both ways: a principal granted the pair (and whatever else
// the request needs) is not refused; one granted everything else but the
// pair gets Kafka's authorization error.
//
// Principals authenticate with SASL PLAIN on a SASL_PLAINTEXT listener,
// configured with Kafka's own keys (listeners, the listener's
// PlainLoginModule JAAS users, authorizer.class.name, super.users): user
// "<name>" with password "<name>-secret" is principal User:<name>.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/moldau/moldau/broker/acl"
	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/internal/batchtest"
	"github.com/moldau/moldau/protocol"
)

// aclUsers are the PLAIN users of newACLBroker: admin (a super user), the
// table's ok<i>/no<i> and the other tests' principals.
func aclUsers() []string {
	users := []string{"admin", "carol", "producer", "txn", "consumer", "stranger", "anyone", "owner"}
	for i := 0; i < 100; i++ {
		users = append(users, "ok"+strconv.Itoa(i), "no"+strconv.Itoa(i))
	}
	return users
}

// newACLBroker starts an in-memory broker with one SASL_PLAINTEXT listener
// (PLAIN users aclUsers) and the authorizer on (super user User:admin),
// from Kafka's properties, and returns it with the listener's address.
func newACLBroker(t *testing.T, mut ...func(*config.Config)) (*Broker, string) {
	t.Helper()
	var jaas strings.Builder
	jaas.WriteString("org.apache.kafka.common.security.plain.PlainLoginModule required")
	for _, u := range aclUsers() {
		fmt.Fprintf(&jaas, " user_%s=%q", u, u+"-secret")
	}
	jaas.WriteString(";")
	args := []string{"--memory", "--admin-addr", "", "--console-addr", "", "--http-proxy-addr", "",
		"--set", "listeners=SASL_PLAINTEXT://127.0.0.1:0",
		"--set", "sasl.enabled.mechanisms=PLAIN",
		"--set", "listener.name.sasl_plaintext.plain.sasl.jaas.config=" + jaas.String(),
		"--set", "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"--set", "super.users=User:admin",
		"--set", "group.initial.rebalance.delay.ms=0",
	}
	cfg, err := config.Load(args, func(string) string { return "" }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mut {
		m(&cfg)
	}
	b, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.Close(ctx)
	})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	addr := b.ListenerAddr("SASL_PLAINTEXT")
	if addr == "" {
		t.Fatal("no SASL_PLAINTEXT listener")
	}
	return b, addr
}

// newPrincipalClient is a franz-go client authenticated as User:<user>
// (SASL PLAIN).
func newPrincipalClient(t *testing.T, addr, user string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.ClientID(user),
		kgo.SASL(plain.Auth{User: user, Pass: user + "-secret"}.AsMechanism())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// grant is one ACL a case's principals get (LITERAL, any host, ALLOW).
type grant struct {
	rt   acl.ResourceType
	name string
	op   acl.Operation
}

func (g grant) binding(principal string) kmsg.CreateACLsRequestCreation {
	c := kmsg.NewCreateACLsRequestCreation()
	c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceType(g.rt), g.name, kmsg.ACLResourcePatternTypeLiteral
	c.Principal, c.Host = principal, "*"
	c.Operation, c.PermissionType = kmsg.ACLOperation(g.op), kmsg.ACLPermissionTypeAllow
	return c
}

func createACLs(t *testing.T, admin *kgo.Client, cs ...kmsg.CreateACLsRequestCreation) {
	t.Helper()
	if len(cs) == 0 {
		return
	}
	req := kmsg.NewPtrCreateACLsRequest()
	req.Creations = cs
	resp, err := req.RequestWith(context.Background(), admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Results {
		if r.ErrorCode != 0 {
			t.Fatalf("create ACLs: %v %v", kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
		}
	}
}

// hidden is what a case's code function returns when the resource is
// absent from a listing (ListGroups, ListTransactions, Metadata).
const hidden int16 = -100

// missing: the response has no entry where the case looks for one.
const missing int16 = -101

type aclCase struct {
	name string
	pair grant   // under test: the allowed principal has it, the denied one not
	base []grant // both principals have these
	// maxVersions caps the client's versions (to reach an old version).
	maxVersions map[int16]int16
	req         func(f *aclFixture) kmsg.Request
	code        func(kmsg.Response) int16
	denied      int16
}

// aclFixture is the state the cases share.
type aclFixture struct {
	topicID [16]byte
}

const aclTopic = "acl-t"

func str(s string) *string { return &s }

func batchBytes() []byte {
	return batchtest.New(time.Now().UnixMilli(), batchtest.Values([]byte("v"))...).MustEncode()
}

func topicGrant(op acl.Operation, name string) grant {
	return grant{acl.ResourceTopic, name, op}
}
func groupGrant(op acl.Operation, name string) grant {
	return grant{acl.ResourceGroup, name, op}
}
func txnGrant(op acl.Operation, name string) grant {
	return grant{acl.ResourceTransactionalID, name, op}
}
func clusterGrant(op acl.Operation) grant {
	return grant{acl.ResourceCluster, acl.ClusterName, op}
}

// first returns the first element's code, or missing.
func first[T any](s []T, code func(*T) int16) int16 {
	if len(s) == 0 {
		return missing
	}
	return code(&s[0])
}

func aclCases() []aclCase {
	tAuth, gAuth, cAuth, xAuth := kerr.TopicAuthorizationFailed.Code, kerr.GroupAuthorizationFailed.Code,
		kerr.ClusterAuthorizationFailed.Code, kerr.TransactionalIDAuthorizationFailed.Code
	produce := func(txn *string) func(f *aclFixture) kmsg.Request {
		return func(f *aclFixture) kmsg.Request {
			r := kmsg.NewPtrProduceRequest()
			r.Acks, r.TimeoutMillis, r.TransactionID = 1, 5000, txn
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic, rt.TopicID = aclTopic, f.topicID
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = batchBytes()
			rt.Partitions = append(rt.Partitions, rp)
			r.Topics = append(r.Topics, rt)
			return r
		}
	}
	produceCode := func(resp kmsg.Response) int16 {
		return first(resp.(*kmsg.ProduceResponse).Topics, func(t *kmsg.ProduceResponseTopic) int16 {
			return first(t.Partitions, func(p *kmsg.ProduceResponseTopicPartition) int16 { return p.ErrorCode })
		})
	}
	metadata := func(topic string, autoCreate bool) func(f *aclFixture) kmsg.Request {
		return func(*aclFixture) kmsg.Request {
			r := kmsg.NewPtrMetadataRequest()
			mt := kmsg.NewMetadataRequestTopic()
			mt.Topic = str(topic)
			r.Topics = append(r.Topics, mt)
			r.AllowAutoTopicCreation = autoCreate
			return r
		}
	}
	metadataCode := func(resp kmsg.Response) int16 {
		return first(resp.(*kmsg.MetadataResponse).Topics, func(t *kmsg.MetadataResponseTopic) int16 { return t.ErrorCode })
	}
	createTopic := func(name string) func(*aclFixture) kmsg.Request {
		return func(*aclFixture) kmsg.Request {
			r := kmsg.NewPtrCreateTopicsRequest()
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, -1
			r.Topics = append(r.Topics, rt)
			return r
		}
	}
	createTopicCode := func(resp kmsg.Response) int16 {
		return first(resp.(*kmsg.CreateTopicsResponse).Topics, func(t *kmsg.CreateTopicsResponseTopic) int16 { return t.ErrorCode })
	}
	offsetCommit := func(group string) func(f *aclFixture) kmsg.Request {
		return func(f *aclFixture) kmsg.Request {
			r := kmsg.NewPtrOffsetCommitRequest()
			r.Group, r.Generation = group, -1
			rt := kmsg.NewOffsetCommitRequestTopic()
			rt.Topic, rt.TopicID = aclTopic, f.topicID
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Offset = 0
			rt.Partitions = append(rt.Partitions, rp)
			r.Topics = append(r.Topics, rt)
			return r
		}
	}
	offsetCommitCode := func(resp kmsg.Response) int16 {
		return first(resp.(*kmsg.OffsetCommitResponse).Topics, func(t *kmsg.OffsetCommitResponseTopic) int16 {
			return first(t.Partitions, func(p *kmsg.OffsetCommitResponseTopicPartition) int16 { return p.ErrorCode })
		})
	}
	offsetFetch := func(group string) func(f *aclFixture) kmsg.Request {
		return func(f *aclFixture) kmsg.Request {
			r := kmsg.NewPtrOffsetFetchRequest()
			g := kmsg.NewOffsetFetchRequestGroup()
			g.Group = group
			gt := kmsg.NewOffsetFetchRequestGroupTopic()
			gt.Topic, gt.TopicID, gt.Partitions = aclTopic, f.topicID, []int32{0}
			g.Topics = append(g.Topics, gt)
			r.Groups = append(r.Groups, g)
			return r
		}
	}
	offsetFetchGroupCode := func(resp kmsg.Response) int16 {
		return first(resp.(*kmsg.OffsetFetchResponse).Groups, func(g *kmsg.OffsetFetchResponseGroup) int16 { return g.ErrorCode })
	}
	offsetFetchTopicCode := func(resp kmsg.Response) int16 {
		return first(resp.(*kmsg.OffsetFetchResponse).Groups, func(g *kmsg.OffsetFetchResponseGroup) int16 {
			if g.ErrorCode != 0 {
				return g.ErrorCode
			}
			return first(g.Topics, func(t *kmsg.OffsetFetchResponseGroupTopic) int16 {
				return first(t.Partitions, func(p *kmsg.OffsetFetchResponseGroupTopicPartition) int16 { return p.ErrorCode })
			})
		})
	}
	txnOffsetCommit := func(txn, group string) func(f *aclFixture) kmsg.Request {
		return func(f *aclFixture) kmsg.Request {
			r := kmsg.NewPtrTxnOffsetCommitRequest()
			r.TransactionalID, r.Group, r.ProducerID, r.ProducerEpoch, r.Generation = txn, group, 1, 0, -1
			rt := kmsg.NewTxnOffsetCommitRequestTopic()
			rt.Topic, rt.TopicID = aclTopic, f.topicID
			rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			rt.Partitions = append(rt.Partitions, rp)
			r.Topics = append(r.Topics, rt)
			return r
		}
	}
	txnOffsetCommitCode := func(resp kmsg.Response) int16 {
		return first(resp.(*kmsg.TxnOffsetCommitResponse).Topics, func(t *kmsg.TxnOffsetCommitResponseTopic) int16 {
			return first(t.Partitions, func(p *kmsg.TxnOffsetCommitResponseTopicPartition) int16 { return p.ErrorCode })
		})
	}
	addPartitionsV3 := func(txn string) func(f *aclFixture) kmsg.Request {
		return func(*aclFixture) kmsg.Request {
			r := kmsg.NewPtrAddPartitionsToTxnRequest()
			r.TransactionalID, r.ProducerID, r.ProducerEpoch = txn, 1, 0
			rt := kmsg.NewAddPartitionsToTxnRequestTopic()
			rt.Topic, rt.Partitions = aclTopic, []int32{0}
			r.Topics = append(r.Topics, rt)
			return r
		}
	}
	addPartitionsV3Code := func(resp kmsg.Response) int16 {
		return first(resp.(*kmsg.AddPartitionsToTxnResponse).Topics, func(t *kmsg.AddPartitionsToTxnResponseTopic) int16 {
			return first(t.Partitions, func(p *kmsg.AddPartitionsToTxnResponseTopicPartition) int16 { return p.ErrorCode })
		})
	}
	addOffsets := func(txn, group string) func(*aclFixture) kmsg.Request {
		return func(*aclFixture) kmsg.Request {
			r := kmsg.NewPtrAddOffsetsToTxnRequest()
			r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Group = txn, 1, 0, group
			return r
		}
	}
	addOffsetsCode := func(resp kmsg.Response) int16 { return resp.(*kmsg.AddOffsetsToTxnResponse).ErrorCode }
	findCoordinator := func(typ int8, key string) func(*aclFixture) kmsg.Request {
		return func(*aclFixture) kmsg.Request {
			r := kmsg.NewPtrFindCoordinatorRequest()
			r.CoordinatorType, r.CoordinatorKey, r.CoordinatorKeys = typ, key, []string{key}
			return r
		}
	}
	findCoordinatorCode := func(resp kmsg.Response) int16 {
		fr := resp.(*kmsg.FindCoordinatorResponse)
		if fr.Version < 4 {
			return fr.ErrorCode
		}
		return first(fr.Coordinators, func(c *kmsg.FindCoordinatorResponseCoordinator) int16 { return c.ErrorCode })
	}
	initPID := func(txn *string) func(*aclFixture) kmsg.Request {
		return func(*aclFixture) kmsg.Request {
			r := kmsg.NewPtrInitProducerIDRequest()
			r.TransactionalID, r.TransactionTimeoutMillis = txn, 60000
			return r
		}
	}
	initPIDCode := func(resp kmsg.Response) int16 { return resp.(*kmsg.InitProducerIDResponse).ErrorCode }
	listGroupsCode := func(group string) func(kmsg.Response) int16 {
		return func(resp kmsg.Response) int16 {
			for _, g := range resp.(*kmsg.ListGroupsResponse).Groups {
				if g.Group == group {
					return 0
				}
			}
			return hidden
		}
	}
	describeConfigs := func(typ kmsg.ConfigResourceType, name string) func(*aclFixture) kmsg.Request {
		return func(*aclFixture) kmsg.Request {
			r := kmsg.NewPtrDescribeConfigsRequest()
			rr := kmsg.NewDescribeConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = typ, name
			r.Resources = append(r.Resources, rr)
			return r
		}
	}
	describeConfigsCode := func(resp kmsg.Response) int16 {
		return first(resp.(*kmsg.DescribeConfigsResponse).Resources, func(r *kmsg.DescribeConfigsResponseResource) int16 { return r.ErrorCode })
	}
	alterConfigs := func(typ kmsg.ConfigResourceType, name, key, value string) func(*aclFixture) kmsg.Request {
		return func(*aclFixture) kmsg.Request {
			r := kmsg.NewPtrAlterConfigsRequest()
			r.ValidateOnly = true
			rr := kmsg.NewAlterConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = typ, name
			c := kmsg.NewAlterConfigsRequestResourceConfig()
			c.Name, c.Value = key, str(value)
			rr.Configs = append(rr.Configs, c)
			r.Resources = append(r.Resources, rr)
			return r
		}
	}
	alterConfigsCode := func(resp kmsg.Response) int16 {
		return first(resp.(*kmsg.AlterConfigsResponse).Resources, func(r *kmsg.AlterConfigsResponseResource) int16 { return r.ErrorCode })
	}
	incAlterConfigs := func(typ kmsg.ConfigResourceType, name, key, value string) func(*aclFixture) kmsg.Request {
		return func(*aclFixture) kmsg.Request {
			r := kmsg.NewPtrIncrementalAlterConfigsRequest()
			r.ValidateOnly = true
			rr := kmsg.NewIncrementalAlterConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = typ, name
			c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			c.Name, c.Value = key, str(value)
			rr.Configs = append(rr.Configs, c)
			r.Resources = append(r.Resources, rr)
			return r
		}
	}
	incAlterConfigsCode := func(resp kmsg.Response) int16 {
		return first(resp.(*kmsg.IncrementalAlterConfigsResponse).Resources, func(r *kmsg.IncrementalAlterConfigsResponseResource) int16 { return r.ErrorCode })
	}
	v := func(key, max int16) map[int16]int16 { return map[int16]int16{key: max} }

	return []aclCase{
		// ---- TOPIC
		{name: "Produce/WRITE topic", pair: topicGrant(acl.OpWrite, aclTopic), req: produce(nil), code: produceCode, denied: tAuth},
		{name: "Fetch/READ topic", pair: topicGrant(acl.OpRead, aclTopic),
			req: func(f *aclFixture) kmsg.Request {
				r := kmsg.NewPtrFetchRequest()
				// A long poll: the denied answer must not wait for it.
				r.ReplicaID, r.MaxBytes, r.SessionEpoch, r.MaxWaitMillis, r.MinBytes = -1, 1<<20, -1, 20000, 1
				rt := kmsg.NewFetchRequestTopic()
				rt.Topic, rt.TopicID = aclTopic, f.topicID
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.PartitionMaxBytes = 1 << 20
				rt.Partitions = append(rt.Partitions, rp)
				r.Topics = append(r.Topics, rt)
				return r
			},
			code: func(resp kmsg.Response) int16 {
				return first(resp.(*kmsg.FetchResponse).Topics, func(t *kmsg.FetchResponseTopic) int16 {
					return first(t.Partitions, func(p *kmsg.FetchResponseTopicPartition) int16 { return p.ErrorCode })
				})
			}, denied: tAuth},
		{name: "ListOffsets/DESCRIBE topic", pair: topicGrant(acl.OpDescribe, aclTopic),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrListOffsetsRequest()
				r.ReplicaID = -1
				rt := kmsg.NewListOffsetsRequestTopic()
				rt.Topic = aclTopic
				rp := kmsg.NewListOffsetsRequestTopicPartition()
				rp.Timestamp = -1
				rt.Partitions = append(rt.Partitions, rp)
				r.Topics = append(r.Topics, rt)
				return r
			},
			code: func(resp kmsg.Response) int16 {
				return first(resp.(*kmsg.ListOffsetsResponse).Topics, func(t *kmsg.ListOffsetsResponseTopic) int16 {
					return first(t.Partitions, func(p *kmsg.ListOffsetsResponseTopicPartition) int16 { return p.ErrorCode })
				})
			}, denied: tAuth},
		{name: "Metadata/DESCRIBE topic", pair: topicGrant(acl.OpDescribe, aclTopic), req: metadata(aclTopic, false), code: metadataCode, denied: tAuth},
		{name: "Metadata all topics/DESCRIBE topic", pair: topicGrant(acl.OpDescribe, aclTopic),
			req: func(*aclFixture) kmsg.Request { return kmsg.NewPtrMetadataRequest() },
			code: func(resp kmsg.Response) int16 {
				for _, t := range resp.(*kmsg.MetadataResponse).Topics {
					if t.Topic != nil && *t.Topic == aclTopic {
						return t.ErrorCode
					}
				}
				return hidden
			}, denied: hidden},
		{name: "DescribeTopicPartitions/DESCRIBE topic", pair: topicGrant(acl.OpDescribe, aclTopic),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrDescribeTopicPartitionsRequest()
				rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
				rt.Topic = aclTopic
				r.Topics, r.ResponsePartitionLimit = append(r.Topics, rt), 100
				return r
			},
			code: func(resp kmsg.Response) int16 {
				return first(resp.(*kmsg.DescribeTopicPartitionsResponse).Topics, func(t *kmsg.DescribeTopicPartitionsResponseTopic) int16 { return t.ErrorCode })
			}, denied: tAuth},
		{name: "ConsumerGroupHeartbeat subscription/DESCRIBE topic", pair: topicGrant(acl.OpDescribe, aclTopic), base: []grant{groupGrant(acl.OpRead, "g-cght")},
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
				r.Group, r.MemberID, r.MemberEpoch, r.RebalanceTimeoutMillis = "g-cght", randomMemberID(), 0, 10000
				r.SubscribedTopicNames = []string{aclTopic}
				r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
				return r
			},
			code: func(resp kmsg.Response) int16 { return resp.(*kmsg.ConsumerGroupHeartbeatResponse).ErrorCode }, denied: tAuth},
		{name: "OffsetForLeaderEpoch/DESCRIBE topic", pair: topicGrant(acl.OpDescribe, aclTopic),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrOffsetForLeaderEpochRequest()
				r.ReplicaID = -1
				rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
				rt.Topic = aclTopic
				rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
				rp.CurrentLeaderEpoch, rp.LeaderEpoch = -1, 0
				rt.Partitions = append(rt.Partitions, rp)
				r.Topics = append(r.Topics, rt)
				return r
			},
			code: func(resp kmsg.Response) int16 {
				return first(resp.(*kmsg.OffsetForLeaderEpochResponse).Topics, func(t *kmsg.OffsetForLeaderEpochResponseTopic) int16 {
					return first(t.Partitions, func(p *kmsg.OffsetForLeaderEpochResponseTopicPartition) int16 { return p.ErrorCode })
				})
			}, denied: tAuth},
		{name: "OffsetFetch/DESCRIBE topic", pair: topicGrant(acl.OpDescribe, aclTopic), base: []grant{groupGrant(acl.OpDescribe, "g-oft")},
			req: offsetFetch("g-oft"), code: offsetFetchTopicCode, denied: tAuth},
		{name: "OffsetCommit/READ topic", pair: topicGrant(acl.OpRead, aclTopic), base: []grant{groupGrant(acl.OpRead, "g-oct")},
			req: offsetCommit("g-oct"), code: offsetCommitCode, denied: tAuth},
		{name: "TxnOffsetCommit/READ topic", pair: topicGrant(acl.OpRead, aclTopic), base: []grant{groupGrant(acl.OpRead, "g-toct"), txnGrant(acl.OpWrite, "x-toct")},
			req: txnOffsetCommit("x-toct", "g-toct"), code: txnOffsetCommitCode, denied: tAuth},
		{name: "DescribeProducers/READ topic", pair: topicGrant(acl.OpRead, aclTopic),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrDescribeProducersRequest()
				rt := kmsg.NewDescribeProducersRequestTopic()
				rt.Topic, rt.Partitions = aclTopic, []int32{0}
				r.Topics = append(r.Topics, rt)
				return r
			},
			code: func(resp kmsg.Response) int16 {
				return first(resp.(*kmsg.DescribeProducersResponse).Topics, func(t *kmsg.DescribeProducersResponseTopic) int16 {
					return first(t.Partitions, func(p *kmsg.DescribeProducersResponseTopicPartition) int16 { return p.ErrorCode })
				})
			}, denied: tAuth},
		{name: "OffsetDelete/READ topic", pair: topicGrant(acl.OpRead, aclTopic), base: []grant{groupGrant(acl.OpDelete, "g-odt")},
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrOffsetDeleteRequest()
				r.Group = "g-odt"
				rt := kmsg.NewOffsetDeleteRequestTopic()
				rt.Topic = aclTopic
				rt.Partitions = append(rt.Partitions, kmsg.NewOffsetDeleteRequestTopicPartition())
				r.Topics = append(r.Topics, rt)
				return r
			},
			code: func(resp kmsg.Response) int16 {
				or := resp.(*kmsg.OffsetDeleteResponse)
				for _, t := range or.Topics {
					for _, p := range t.Partitions {
						if p.ErrorCode != 0 {
							return p.ErrorCode
						}
					}
				}
				return or.ErrorCode
			}, denied: tAuth},
		{name: "CreateTopics/CREATE topic", pair: topicGrant(acl.OpCreate, "ct-topic"), req: createTopic("ct-topic"), code: createTopicCode, denied: tAuth},
		{name: "Metadata auto-create/CREATE topic", pair: topicGrant(acl.OpCreate, "auto-topic"), base: []grant{topicGrant(acl.OpDescribe, "auto-topic")},
			req: metadata("auto-topic", true), code: metadataCode, denied: tAuth},
		{name: "DeleteRecords/DELETE topic", pair: topicGrant(acl.OpDelete, aclTopic),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrDeleteRecordsRequest()
				r.TimeoutMillis = 5000
				rt := kmsg.NewDeleteRecordsRequestTopic()
				rt.Topic = aclTopic
				rp := kmsg.NewDeleteRecordsRequestTopicPartition()
				rp.Offset = 0
				rt.Partitions = append(rt.Partitions, rp)
				r.Topics = append(r.Topics, rt)
				return r
			},
			code: func(resp kmsg.Response) int16 {
				return first(resp.(*kmsg.DeleteRecordsResponse).Topics, func(t *kmsg.DeleteRecordsResponseTopic) int16 {
					return first(t.Partitions, func(p *kmsg.DeleteRecordsResponseTopicPartition) int16 { return p.ErrorCode })
				})
			}, denied: tAuth},
		{name: "DeleteTopics/DELETE topic", pair: topicGrant(acl.OpDelete, "del-topic"),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrDeleteTopicsRequest()
				r.TimeoutMillis = 5000
				r.TopicNames = []string{"del-topic"}
				dt := kmsg.NewDeleteTopicsRequestTopic()
				dt.Topic = str("del-topic")
				r.Topics = append(r.Topics, dt)
				return r
			},
			code: func(resp kmsg.Response) int16 {
				return first(resp.(*kmsg.DeleteTopicsResponse).Topics, func(t *kmsg.DeleteTopicsResponseTopic) int16 { return t.ErrorCode })
			}, denied: tAuth},
		{name: "CreatePartitions/ALTER topic", pair: topicGrant(acl.OpAlter, "cp-topic"),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrCreatePartitionsRequest()
				r.TimeoutMillis, r.ValidateOnly = 5000, true
				rt := kmsg.NewCreatePartitionsRequestTopic()
				rt.Topic, rt.Count = "cp-topic", 3
				r.Topics = append(r.Topics, rt)
				return r
			},
			code: func(resp kmsg.Response) int16 {
				return first(resp.(*kmsg.CreatePartitionsResponse).Topics, func(t *kmsg.CreatePartitionsResponseTopic) int16 { return t.ErrorCode })
			}, denied: tAuth},
		{name: "DescribeConfigs/DESCRIBE_CONFIGS topic", pair: topicGrant(acl.OpDescribeConfigs, aclTopic),
			req: describeConfigs(kmsg.ConfigResourceTypeTopic, aclTopic), code: describeConfigsCode, denied: tAuth},
		{name: "AlterConfigs/ALTER_CONFIGS topic", pair: topicGrant(acl.OpAlterConfigs, aclTopic),
			req: alterConfigs(kmsg.ConfigResourceTypeTopic, aclTopic, "retention.ms", "100000"), code: alterConfigsCode, denied: tAuth},
		{name: "IncrementalAlterConfigs/ALTER_CONFIGS topic", pair: topicGrant(acl.OpAlterConfigs, aclTopic),
			req: incAlterConfigs(kmsg.ConfigResourceTypeTopic, aclTopic, "retention.ms", "100000"), code: incAlterConfigsCode, denied: tAuth},
		{name: "AddPartitionsToTxn v3/WRITE topic", pair: topicGrant(acl.OpWrite, aclTopic), base: []grant{txnGrant(acl.OpWrite, "x-aptt")},
			maxVersions: v(24, 3), req: addPartitionsV3("x-aptt"), code: addPartitionsV3Code, denied: tAuth},
		{name: "InitProducerId idempotent/WRITE any topic (KIP-679)", pair: topicGrant(acl.OpWrite, aclTopic),
			req: initPID(nil), code: initPIDCode, denied: cAuth},

		// ---- TRANSACTIONAL_ID
		{name: "InitProducerId/WRITE transactional id", pair: txnGrant(acl.OpWrite, "x-init"), req: initPID(str("x-init")), code: initPIDCode, denied: xAuth},
		{name: "Produce transactional/WRITE transactional id", pair: txnGrant(acl.OpWrite, "x-prod"), base: []grant{topicGrant(acl.OpWrite, aclTopic)},
			req: produce(str("x-prod")), code: produceCode, denied: xAuth},
		{name: "AddPartitionsToTxn v3/WRITE transactional id", pair: txnGrant(acl.OpWrite, "x-apt"), base: []grant{topicGrant(acl.OpWrite, aclTopic)},
			maxVersions: v(24, 3), req: addPartitionsV3("x-apt"), code: addPartitionsV3Code, denied: xAuth},
		{name: "AddOffsetsToTxn/WRITE transactional id", pair: txnGrant(acl.OpWrite, "x-aot"), base: []grant{groupGrant(acl.OpRead, "g-aotx")},
			req: addOffsets("x-aot", "g-aotx"), code: addOffsetsCode, denied: xAuth},
		{name: "EndTxn/WRITE transactional id", pair: txnGrant(acl.OpWrite, "x-end"),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrEndTxnRequest()
				r.TransactionalID, r.ProducerID, r.ProducerEpoch = "x-end", 1, 0
				return r
			},
			code: func(resp kmsg.Response) int16 { return resp.(*kmsg.EndTxnResponse).ErrorCode }, denied: xAuth},
		{name: "TxnOffsetCommit/WRITE transactional id", pair: txnGrant(acl.OpWrite, "x-toc"), base: []grant{groupGrant(acl.OpRead, "g-tocx"), topicGrant(acl.OpRead, aclTopic)},
			req: txnOffsetCommit("x-toc", "g-tocx"), code: txnOffsetCommitCode, denied: xAuth},
		{name: "FindCoordinator/DESCRIBE transactional id", pair: txnGrant(acl.OpDescribe, "x-fc"),
			req: findCoordinator(1, "x-fc"), code: findCoordinatorCode, denied: xAuth},
		{name: "DescribeTransactions/DESCRIBE transactional id", pair: txnGrant(acl.OpDescribe, "x-dt"),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrDescribeTransactionsRequest()
				r.TransactionalIDs = []string{"x-dt"}
				return r
			},
			code: func(resp kmsg.Response) int16 {
				return first(resp.(*kmsg.DescribeTransactionsResponse).TransactionStates, func(s *kmsg.DescribeTransactionsResponseTransactionState) int16 { return s.ErrorCode })
			}, denied: xAuth},
		{name: "ListTransactions/DESCRIBE transactional id", pair: txnGrant(acl.OpDescribe, "x-listed"),
			req: func(*aclFixture) kmsg.Request { return kmsg.NewPtrListTransactionsRequest() },
			code: func(resp kmsg.Response) int16 {
				for _, s := range resp.(*kmsg.ListTransactionsResponse).TransactionStates {
					if s.TransactionalID == "x-listed" {
						return 0
					}
				}
				return hidden
			}, denied: hidden},

		// ---- GROUP
		{name: "JoinGroup/READ group", pair: groupGrant(acl.OpRead, "g-join"),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrJoinGroupRequest()
				r.Group, r.SessionTimeoutMillis, r.RebalanceTimeoutMillis, r.ProtocolType = "g-join", 10000, 10000, "consumer"
				p := kmsg.NewJoinGroupRequestProtocol()
				p.Name, p.Metadata = "range", []byte{0, 0, 0, 0, 0, 0}
				r.Protocols = append(r.Protocols, p)
				return r
			},
			code: func(resp kmsg.Response) int16 { return resp.(*kmsg.JoinGroupResponse).ErrorCode }, denied: gAuth},
		{name: "SyncGroup/READ group", pair: groupGrant(acl.OpRead, "g-sync"),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrSyncGroupRequest()
				r.Group, r.Generation, r.MemberID = "g-sync", 1, "m"
				return r
			},
			code: func(resp kmsg.Response) int16 { return resp.(*kmsg.SyncGroupResponse).ErrorCode }, denied: gAuth},
		{name: "Heartbeat/READ group", pair: groupGrant(acl.OpRead, "g-hb"),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrHeartbeatRequest()
				r.Group, r.Generation, r.MemberID = "g-hb", 1, "m"
				return r
			},
			code: func(resp kmsg.Response) int16 { return resp.(*kmsg.HeartbeatResponse).ErrorCode }, denied: gAuth},
		{name: "LeaveGroup/READ group", pair: groupGrant(acl.OpRead, "g-leave"),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrLeaveGroupRequest()
				r.Group, r.MemberID = "g-leave", "m"
				mi := kmsg.NewLeaveGroupRequestMember()
				mi.MemberID = "m"
				r.Members = append(r.Members, mi)
				return r
			},
			code: func(resp kmsg.Response) int16 { return resp.(*kmsg.LeaveGroupResponse).ErrorCode }, denied: gAuth},
		{name: "OffsetCommit/READ group", pair: groupGrant(acl.OpRead, "g-oc"), base: []grant{topicGrant(acl.OpRead, aclTopic)},
			req: offsetCommit("g-oc"), code: offsetCommitCode, denied: gAuth},
		{name: "TxnOffsetCommit/READ group", pair: groupGrant(acl.OpRead, "g-toc"), base: []grant{txnGrant(acl.OpWrite, "x-tocg"), topicGrant(acl.OpRead, aclTopic)},
			req: txnOffsetCommit("x-tocg", "g-toc"), code: txnOffsetCommitCode, denied: gAuth},
		{name: "AddOffsetsToTxn/READ group", pair: groupGrant(acl.OpRead, "g-aot"), base: []grant{txnGrant(acl.OpWrite, "x-aotg")},
			req: addOffsets("x-aotg", "g-aot"), code: addOffsetsCode, denied: gAuth},
		{name: "ConsumerGroupHeartbeat/READ group", pair: groupGrant(acl.OpRead, "g-cgh"), base: []grant{topicGrant(acl.OpDescribe, aclTopic)},
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
				r.Group, r.MemberID, r.MemberEpoch, r.RebalanceTimeoutMillis = "g-cgh", randomMemberID(), 0, 10000
				r.SubscribedTopicNames = []string{aclTopic}
				r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
				return r
			},
			code: func(resp kmsg.Response) int16 { return resp.(*kmsg.ConsumerGroupHeartbeatResponse).ErrorCode }, denied: gAuth},
		{name: "OffsetFetch/DESCRIBE group", pair: groupGrant(acl.OpDescribe, "g-of"), base: []grant{topicGrant(acl.OpDescribe, aclTopic)},
			req: offsetFetch("g-of"), code: offsetFetchGroupCode, denied: gAuth},
		{name: "FindCoordinator/DESCRIBE group", pair: groupGrant(acl.OpDescribe, "g-fc"),
			req: findCoordinator(0, "g-fc"), code: findCoordinatorCode, denied: gAuth},
		{name: "DescribeGroups/DESCRIBE group", pair: groupGrant(acl.OpDescribe, "g-dg"),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrDescribeGroupsRequest()
				r.Groups = []string{"g-dg"}
				return r
			},
			code: func(resp kmsg.Response) int16 {
				return first(resp.(*kmsg.DescribeGroupsResponse).Groups, func(g *kmsg.DescribeGroupsResponseGroup) int16 { return g.ErrorCode })
			}, denied: gAuth},
		{name: "ConsumerGroupDescribe/DESCRIBE group", pair: groupGrant(acl.OpDescribe, "g-cgd"),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrConsumerGroupDescribeRequest()
				r.Groups = []string{"g-cgd"}
				return r
			},
			code: func(resp kmsg.Response) int16 {
				return first(resp.(*kmsg.ConsumerGroupDescribeResponse).Groups, func(g *kmsg.ConsumerGroupDescribeResponseGroup) int16 { return g.ErrorCode })
			}, denied: gAuth},
		{name: "StreamsGroupHeartbeat/READ group", pair: groupGrant(acl.OpRead, "g-sgh"), base: []grant{topicGrant(acl.OpDescribe, aclTopic)},
			req: streamsJoinSource("g-sgh", aclTopic), denied: gAuth,
			code: func(resp kmsg.Response) int16 { return resp.(*kmsg.StreamsGroupHeartbeatResponse).ErrorCode }},
		{name: "StreamsGroupHeartbeat topology/DESCRIBE topic", pair: topicGrant(acl.OpDescribe, aclTopic), base: []grant{groupGrant(acl.OpRead, "g-sght")},
			req: streamsJoinSource("g-sght", aclTopic), denied: tAuth,
			code: func(resp kmsg.Response) int16 { return resp.(*kmsg.StreamsGroupHeartbeatResponse).ErrorCode }},
		{name: "StreamsGroupTopologyDescriptionUpdate/READ group", pair: groupGrant(acl.OpRead, "g-sgtd"),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrStreamsGroupTopologyDescriptionUpdateRequest()
				r.Group, r.MemberID = "g-sgtd", "m"
				return r
			}, denied: gAuth,
			code: func(resp kmsg.Response) int16 {
				return resp.(*kmsg.StreamsGroupTopologyDescriptionUpdateResponse).ErrorCode
			}},
		{name: "StreamsGroupDescribe/DESCRIBE group", pair: groupGrant(acl.OpDescribe, "g-sgd"),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrStreamsGroupDescribeRequest()
				r.Groups = []string{"g-sgd"}
				return r
			},
			code: func(resp kmsg.Response) int16 {
				return first(resp.(*kmsg.StreamsGroupDescribeResponse).Groups, func(g *kmsg.StreamsGroupDescribeResponseGroup) int16 { return g.ErrorCode })
			}, denied: gAuth},
		{name: "ListGroups/DESCRIBE group", pair: groupGrant(acl.OpDescribe, "g-listed"),
			req: func(*aclFixture) kmsg.Request { return kmsg.NewPtrListGroupsRequest() }, code: listGroupsCode("g-listed"), denied: hidden},
		{name: "DescribeConfigs/DESCRIBE_CONFIGS group", pair: groupGrant(acl.OpDescribeConfigs, "g-cfg"),
			req: describeConfigs(kmsg.ConfigResourceTypeGroupConfig, "g-cfg"), code: describeConfigsCode, denied: gAuth},
		{name: "IncrementalAlterConfigs/ALTER_CONFIGS group", pair: groupGrant(acl.OpAlterConfigs, "g-cfg"),
			req: incAlterConfigs(kmsg.ConfigResourceTypeGroupConfig, "g-cfg", "consumer.session.timeout.ms", "45000"), code: incAlterConfigsCode, denied: gAuth},
		{name: "DeleteGroups/DELETE group", pair: groupGrant(acl.OpDelete, "g-del"),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrDeleteGroupsRequest()
				r.Groups = []string{"g-del"}
				return r
			},
			code: func(resp kmsg.Response) int16 {
				return first(resp.(*kmsg.DeleteGroupsResponse).Groups, func(g *kmsg.DeleteGroupsResponseGroup) int16 { return g.ErrorCode })
			}, denied: gAuth},
		{name: "OffsetDelete/DELETE group", pair: groupGrant(acl.OpDelete, "g-od"), base: []grant{topicGrant(acl.OpRead, aclTopic)},
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrOffsetDeleteRequest()
				r.Group = "g-od"
				rt := kmsg.NewOffsetDeleteRequestTopic()
				rt.Topic = aclTopic
				rt.Partitions = append(rt.Partitions, kmsg.NewOffsetDeleteRequestTopicPartition())
				r.Topics = append(r.Topics, rt)
				return r
			},
			code: func(resp kmsg.Response) int16 { return resp.(*kmsg.OffsetDeleteResponse).ErrorCode }, denied: gAuth},

		// ---- CLUSTER
		{name: "CreateTopics/CREATE cluster", pair: clusterGrant(acl.OpCreate), req: createTopic("ctc-topic"), code: createTopicCode, denied: tAuth},
		{name: "Metadata auto-create/CREATE cluster", pair: clusterGrant(acl.OpCreate), base: []grant{topicGrant(acl.OpDescribe, "autoc-topic")},
			req: metadata("autoc-topic", true), code: metadataCode, denied: tAuth},
		{name: "InitProducerId idempotent/IDEMPOTENT_WRITE cluster", pair: clusterGrant(acl.OpIdempotentWrite), req: initPID(nil), code: initPIDCode, denied: cAuth},
		{name: "ElectLeaders/ALTER cluster", pair: clusterGrant(acl.OpAlter),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrElectLeadersRequest()
				r.TimeoutMillis = 5000
				rt := kmsg.NewElectLeadersRequestTopic()
				rt.Topic, rt.Partitions = aclTopic, []int32{0}
				r.Topics = append(r.Topics, rt)
				return r
			},
			code: func(resp kmsg.Response) int16 { return resp.(*kmsg.ElectLeadersResponse).ErrorCode }, denied: cAuth},
		{name: "CreateAcls/ALTER cluster", pair: clusterGrant(acl.OpAlter),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrCreateACLsRequest()
				r.Creations = append(r.Creations, grant{acl.ResourceTopic, "unused", acl.OpRead}.binding("User:nobody"))
				return r
			},
			code: func(resp kmsg.Response) int16 {
				return first(resp.(*kmsg.CreateACLsResponse).Results, func(r *kmsg.CreateACLsResponseResult) int16 { return r.ErrorCode })
			}, denied: cAuth},
		{name: "DeleteAcls/ALTER cluster", pair: clusterGrant(acl.OpAlter),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrDeleteACLsRequest()
				f := kmsg.NewDeleteACLsRequestFilter()
				f.ResourceType, f.ResourceName, f.ResourcePatternType = kmsg.ACLResourceTypeTopic, str("nothing-here"), kmsg.ACLResourcePatternTypeLiteral
				f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
				r.Filters = append(r.Filters, f)
				return r
			},
			code: func(resp kmsg.Response) int16 {
				return first(resp.(*kmsg.DeleteACLsResponse).Results, func(r *kmsg.DeleteACLsResponseResult) int16 { return r.ErrorCode })
			}, denied: cAuth},
		{name: "DescribeAcls/DESCRIBE cluster", pair: clusterGrant(acl.OpDescribe),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrDescribeACLsRequest()
				r.ResourceType, r.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
				r.Operation, r.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
				return r
			},
			code: func(resp kmsg.Response) int16 { return resp.(*kmsg.DescribeACLsResponse).ErrorCode }, denied: cAuth},
		{name: "DescribeClientQuotas/DESCRIBE_CONFIGS cluster", pair: clusterGrant(acl.OpDescribeConfigs),
			req:  func(*aclFixture) kmsg.Request { return kmsg.NewPtrDescribeClientQuotasRequest() },
			code: func(resp kmsg.Response) int16 { return resp.(*kmsg.DescribeClientQuotasResponse).ErrorCode }, denied: cAuth},
		{name: "AlterClientQuotas/ALTER_CONFIGS cluster", pair: clusterGrant(acl.OpAlterConfigs),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrAlterClientQuotasRequest()
				r.ValidateOnly = true
				e := kmsg.NewAlterClientQuotasRequestEntry()
				en := kmsg.NewAlterClientQuotasRequestEntryEntity()
				en.Type, en.Name = "user", str("quota-user")
				op := kmsg.NewAlterClientQuotasRequestEntryOp()
				op.Key, op.Value = "producer_byte_rate", 1<<20
				e.Entity, e.Ops = append(e.Entity, en), append(e.Ops, op)
				r.Entries = append(r.Entries, e)
				return r
			},
			code: func(resp kmsg.Response) int16 {
				return first(resp.(*kmsg.AlterClientQuotasResponse).Entries, func(e *kmsg.AlterClientQuotasResponseEntry) int16 { return e.ErrorCode })
			}, denied: cAuth},
		{name: "DescribeUserScramCredentials/DESCRIBE cluster", pair: clusterGrant(acl.OpDescribe),
			req:  func(*aclFixture) kmsg.Request { return kmsg.NewPtrDescribeUserSCRAMCredentialsRequest() },
			code: func(resp kmsg.Response) int16 { return resp.(*kmsg.DescribeUserSCRAMCredentialsResponse).ErrorCode }, denied: cAuth},
		{name: "AlterUserScramCredentials/ALTER cluster", pair: clusterGrant(acl.OpAlter),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
				u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
				u.Name, u.Mechanism, u.Iterations = "scram-user", 1, 4096
				u.Salt, u.SaltedPassword = make([]byte, 16), make([]byte, 32)
				r.Upsertions = append(r.Upsertions, u)
				return r
			},
			code: func(resp kmsg.Response) int16 {
				return first(resp.(*kmsg.AlterUserSCRAMCredentialsResponse).Results, func(r *kmsg.AlterUserSCRAMCredentialsResponseResult) int16 { return r.ErrorCode })
			}, denied: cAuth},
		{name: "DescribeCluster operations/DESCRIBE cluster", pair: clusterGrant(acl.OpDescribe), base: []grant{clusterGrant(acl.OpCreate)},
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrDescribeClusterRequest()
				r.IncludeClusterAuthorizedOperations = true
				return r
			},
			code: func(resp kmsg.Response) int16 {
				// Kafka answers, with operations 0 without DESCRIBE.
				dr := resp.(*kmsg.DescribeClusterResponse)
				if dr.ErrorCode != 0 {
					return dr.ErrorCode
				}
				if dr.ClusterAuthorizedOperations == 0 {
					return hidden
				}
				return 0
			}, denied: hidden},
		{name: "ListGroups/DESCRIBE cluster", pair: clusterGrant(acl.OpDescribe),
			req: func(*aclFixture) kmsg.Request { return kmsg.NewPtrListGroupsRequest() }, code: listGroupsCode("g-listed"), denied: hidden},
		{name: "DescribeConfigs/DESCRIBE_CONFIGS cluster", pair: clusterGrant(acl.OpDescribeConfigs),
			req: describeConfigs(kmsg.ConfigResourceTypeBroker, "0"), code: describeConfigsCode, denied: cAuth},
		{name: "AlterConfigs/ALTER_CONFIGS cluster", pair: clusterGrant(acl.OpAlterConfigs),
			req: alterConfigs(kmsg.ConfigResourceTypeBroker, "0", "log.retention.ms", "100000"), code: alterConfigsCode, denied: cAuth},
		{name: "IncrementalAlterConfigs/ALTER_CONFIGS cluster", pair: clusterGrant(acl.OpAlterConfigs),
			req: incAlterConfigs(kmsg.ConfigResourceTypeBroker, "0", "log.retention.ms", "100000"), code: incAlterConfigsCode, denied: cAuth},
		{name: "WriteTxnMarkers/CLUSTER_ACTION cluster", pair: clusterGrant(acl.OpClusterAction),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrWriteTxnMarkersRequest()
				m := kmsg.NewWriteTxnMarkersRequestMarker()
				m.ProducerID, m.ProducerEpoch, m.Committed = 999999, 0, false
				mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
				mt.Topic, mt.Partitions = aclTopic, []int32{0}
				m.Topics = append(m.Topics, mt)
				r.Markers = append(r.Markers, m)
				return r
			},
			code: func(resp kmsg.Response) int16 {
				return first(resp.(*kmsg.WriteTxnMarkersResponse).Markers, func(m *kmsg.WriteTxnMarkersResponseMarker) int16 {
					return first(m.Topics, func(t *kmsg.WriteTxnMarkersResponseMarkerTopic) int16 {
						return first(t.Partitions, func(p *kmsg.WriteTxnMarkersResponseMarkerTopicPartition) int16 { return p.ErrorCode })
					})
				})
			}, denied: cAuth},
		{name: "AddPartitionsToTxn v4+ (broker)/CLUSTER_ACTION cluster", pair: clusterGrant(acl.OpClusterAction),
			req: func(*aclFixture) kmsg.Request {
				r := kmsg.NewPtrAddPartitionsToTxnRequest()
				tr := kmsg.NewAddPartitionsToTxnRequestTransaction()
				tr.TransactionalID, tr.ProducerID, tr.ProducerEpoch, tr.VerifyOnly = "x-verify", 1, 0, true
				tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
				tt.Topic, tt.Partitions = aclTopic, []int32{0}
				tr.Topics = append(tr.Topics, tt)
				r.Transactions = append(r.Transactions, tr)
				return r
			},
			code: func(resp kmsg.Response) int16 { return resp.(*kmsg.AddPartitionsToTxnResponse).ErrorCode }, denied: cAuth},
	}
}

func randomMemberID() string {
	var b [11]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// isAuthError reports whether code is one of the authorization errors.
func isAuthError(code int16) bool {
	switch code {
	case kerr.TopicAuthorizationFailed.Code, kerr.GroupAuthorizationFailed.Code, kerr.ClusterAuthorizationFailed.Code,
		kerr.TransactionalIDAuthorizationFailed.Code:
		return true
	}
	return false
}

func TestACLEveryOperationAndResource(t *testing.T) {
	_, addr := newACLBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := newPrincipalClient(t, addr, "admin")
	f := &aclFixture{}
	for _, name := range []string{aclTopic, "del-topic", "cp-topic"} {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, -1
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, admin)
		if err != nil || resp.Topics[0].ErrorCode != 0 {
			t.Fatalf("create %s: %v %v", name, err, resp)
		}
		if name == aclTopic {
			f.topicID = resp.Topics[0].TopicID
		}
	}
	if err := admin.ProduceSync(ctx, &kgo.Record{Topic: aclTopic, Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// A group and a transaction for the listing cases.
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Group, oc.Generation = "g-listed", -1
	ot := kmsg.NewOffsetCommitRequestTopic()
	ot.Topic, ot.TopicID = aclTopic, f.topicID
	ot.Partitions = append(ot.Partitions, kmsg.NewOffsetCommitRequestTopicPartition())
	oc.Topics = append(oc.Topics, ot)
	if _, err := admin.SeedBrokers()[0].Request(ctx, oc); err != nil {
		t.Fatal(err)
	}
	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.TransactionalID, ip.TransactionTimeoutMillis = str("x-listed"), 60000
	if resp, err := ip.RequestWith(ctx, admin); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("init x-listed: %v %v", err, resp)
	}

	pairs := make(map[[2]int8]bool)
	for i, c := range aclCases() {
		t.Run(c.name, func(t *testing.T) {
			pairs[[2]int8{int8(c.pair.rt), int8(c.pair.op)}] = true
			ok, no := "ok"+strconv.Itoa(i), "no"+strconv.Itoa(i)
			var creations []kmsg.CreateACLsRequestCreation
			for _, g := range c.base {
				creations = append(creations, g.binding("User:"+ok), g.binding("User:"+no))
			}
			creations = append(creations, c.pair.binding("User:"+ok))
			createACLs(t, admin, creations...)

			var opts []kgo.Opt
			if c.maxVersions != nil {
				vs := kversion.Stable()
				for k, m := range c.maxVersions {
					vs.SetMaxKeyVersion(k, m)
				}
				opts = append(opts, kgo.MaxVersions(vs))
			}
			send := func(clientID string) int16 {
				cl := newPrincipalClient(t, addr, clientID, opts...)
				resp, err := cl.SeedBrokers()[0].Request(ctx, c.req(f))
				if err != nil {
					t.Fatalf("%s: %v", clientID, err)
				}
				return c.code(resp)
			}
			// Denied first: the allowed request may create or delete
			// what the denied one names.
			if got := send(no); got != c.denied {
				t.Errorf("without %s %s on %s: code %d (%v), want %d (%v)", c.pair.op, c.pair.rt, c.pair.name, got, kerr.ErrorForCode(got), c.denied, kerr.ErrorForCode(c.denied))
			}
			if got := send(ok); got == c.denied || isAuthError(got) || got == missing {
				t.Errorf("with %s %s on %s: code %d (%v), want no authorization error", c.pair.op, c.pair.rt, c.pair.name, got, kerr.ErrorForCode(got))
			}
		})
	}
	// Every pair Kafka checks on the APIs Moldau serves (delegation tokens
	// and USER resources belong to the delegation-token APIs).
	want := map[acl.ResourceType][]acl.Operation{
		acl.ResourceTopic:           {acl.OpRead, acl.OpWrite, acl.OpCreate, acl.OpDelete, acl.OpAlter, acl.OpDescribe, acl.OpDescribeConfigs, acl.OpAlterConfigs},
		acl.ResourceGroup:           {acl.OpRead, acl.OpDescribe, acl.OpDelete, acl.OpDescribeConfigs, acl.OpAlterConfigs},
		acl.ResourceCluster:         {acl.OpCreate, acl.OpAlter, acl.OpDescribe, acl.OpClusterAction, acl.OpDescribeConfigs, acl.OpAlterConfigs, acl.OpIdempotentWrite},
		acl.ResourceTransactionalID: {acl.OpWrite, acl.OpDescribe},
	}
	for rt, ops := range want {
		for _, op := range ops {
			if !pairs[[2]int8{int8(rt), int8(op)}] {
				t.Errorf("no case for %s on %s", op, rt)
			}
		}
	}
}

func TestACLSecurityDisabled(t *testing.T) {
	b := newAdminBroker(t)
	for v := int16(0); v <= 3; v++ {
		d := kmsg.NewPtrDescribeACLsRequest()
		d.ResourceType, d.ResourcePatternType, d.Operation, d.PermissionType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		if r := do[*kmsg.DescribeACLsResponse](t, b, v, d); r.ErrorCode != kerr.SecurityDisabled.Code {
			t.Errorf("DescribeAcls v%d: %v", v, kerr.ErrorForCode(r.ErrorCode))
		}
		c := kmsg.NewPtrCreateACLsRequest()
		c.Creations = append(c.Creations, grant{acl.ResourceTopic, "t", acl.OpRead}.binding("User:a"))
		if r := do[*kmsg.CreateACLsResponse](t, b, v, c); len(r.Results) != 1 || r.Results[0].ErrorCode != kerr.SecurityDisabled.Code {
			t.Errorf("CreateAcls v%d: %+v", v, r.Results)
		}
		dl := kmsg.NewPtrDeleteACLsRequest()
		f := kmsg.NewDeleteACLsRequestFilter()
		f.ResourceType, f.ResourcePatternType, f.Operation, f.PermissionType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		dl.Filters = append(dl.Filters, f)
		if r := do[*kmsg.DeleteACLsResponse](t, b, v, dl); len(r.Results) != 1 || r.Results[0].ErrorCode != kerr.SecurityDisabled.Code {
			t.Errorf("DeleteAcls v%d: %+v", v, r.Results)
		}
	}
}

// TestACLAPIs: create, describe (every filter kind) and delete bindings,
// Kafka's validation errors, at every version.
func TestACLAPIs(t *testing.T) {
	b := newAdminBroker(t, func(c *config.Config) {
		c.Security.Authz.Enabled = true
		c.Security.Authz.SuperUsers = []string{protocol.AnonymousPrincipal}
	})
	for v := int16(0); v <= 3; v++ {
		pat := kmsg.ACLResourcePatternTypePrefixed
		if v == 0 {
			pat = kmsg.ACLResourcePatternTypeLiteral
		}
		c := kmsg.NewPtrCreateACLsRequest()
		g1 := grant{acl.ResourceTopic, "orders", acl.OpRead}.binding("User:alice")
		g2 := grant{acl.ResourceTopic, "ord", acl.OpWrite}.binding("User:bob")
		g2.ResourcePatternType = pat
		bad1 := grant{acl.ResourceCluster, "not-the-cluster", acl.OpAlter}.binding("User:alice")
		bad2 := grant{acl.ResourceTopic, "x", acl.OpRead}.binding("alice")
		bad3 := grant{acl.ResourceGroup, "g", acl.OpWrite}.binding("User:alice")
		c.Creations = []kmsg.CreateACLsRequestCreation{g1, g2, bad1, bad2, bad3}
		cr := do[*kmsg.CreateACLsResponse](t, b, v, c)
		var codes []int16
		for _, r := range cr.Results {
			codes = append(codes, r.ErrorCode)
		}
		inv := kerr.InvalidRequest.Code
		if !slices.Equal(codes, []int16{0, 0, inv, inv, inv}) {
			t.Fatalf("v%d create codes %v", v, codes)
		}

		d := kmsg.NewPtrDescribeACLsRequest()
		d.ResourceType, d.ResourceName, d.ResourcePatternType = kmsg.ACLResourceTypeTopic, str("orders"), kmsg.ACLResourcePatternTypeMatch
		d.Operation, d.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		want := 2
		if v == 0 {
			want = 1 // v0 filters are LITERAL: "ord" does not name "orders"
		}
		dr := do[*kmsg.DescribeACLsResponse](t, b, v, d)
		n := 0
		for _, r := range dr.Resources {
			n += len(r.ACLs)
		}
		if dr.ErrorCode != 0 || n != want {
			t.Fatalf("v%d describe MATCH orders: %v, %d bindings, want %d: %+v", v, kerr.ErrorForCode(dr.ErrorCode), n, want, dr.Resources)
		}
		d.ResourcePatternType = kmsg.ACLResourcePatternTypeUnknown
		if v > 0 {
			if dr := do[*kmsg.DescribeACLsResponse](t, b, v, d); dr.ErrorCode != inv {
				t.Fatalf("v%d describe UNKNOWN pattern: %v", v, kerr.ErrorForCode(dr.ErrorCode))
			}
		}

		dl := kmsg.NewPtrDeleteACLsRequest()
		f := kmsg.NewDeleteACLsRequestFilter()
		f.ResourceType, f.ResourcePatternType, f.Operation, f.PermissionType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		if v == 0 {
			f.ResourcePatternType = kmsg.ACLResourcePatternTypeLiteral
		}
		bad := f
		bad.Operation = kmsg.ACLOperationUnknown
		dl.Filters = []kmsg.DeleteACLsRequestFilter{f, bad}
		del := do[*kmsg.DeleteACLsResponse](t, b, v, dl)
		if del.Results[0].ErrorCode != 0 || len(del.Results[0].MatchingACLs) != 2 || del.Results[1].ErrorCode != inv {
			t.Fatalf("v%d delete: %+v", v, del.Results)
		}
		if left := b.authz.Bindings(acl.Filter{ResourceType: acl.ResourceAny, Pattern: acl.PatternAny, Operation: acl.OpAny, Permission: acl.PermissionAny}); len(left) != 0 {
			t.Fatalf("v%d: %d bindings left", v, len(left))
		}
	}
}

// TestACLAuthorizedOperations: KIP-430 fields and hidden topics.
func TestACLAuthorizedOperations(t *testing.T) {
	_, addr := newACLBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := newPrincipalClient(t, addr, "admin")
	for _, name := range []string{"visible", "invisible"} {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, -1
		req.Topics = append(req.Topics, rt)
		if _, err := req.RequestWith(ctx, admin); err != nil {
			t.Fatal(err)
		}
	}
	createACLs(t, admin,
		grant{acl.ResourceTopic, "visible", acl.OpRead}.binding("User:carol"),
		grant{acl.ResourceCluster, acl.ClusterName, acl.OpDescribe}.binding("User:carol"),
		grant{acl.ResourceGroup, "cg", acl.OpRead}.binding("User:carol"))
	carol := newPrincipalClient(t, addr, "carol")
	mr := kmsg.NewPtrMetadataRequest()
	mr.IncludeClusterAuthorizedOperations, mr.IncludeTopicAuthorizedOperations = true, true
	resp, err := carol.SeedBrokers()[0].Request(ctx, mr)
	if err != nil {
		t.Fatal(err)
	}
	m := resp.(*kmsg.MetadataResponse)
	if len(m.Topics) != 1 || *m.Topics[0].Topic != "visible" {
		t.Fatalf("carol sees %d topics: %+v", len(m.Topics), m.Topics)
	}
	if got := m.Topics[0].AuthorizedOperations; got != 1<<acl.OpRead|1<<acl.OpDescribe {
		t.Errorf("topic operations %b", got)
	}
	if m.Version >= 8 && m.Version <= 10 && m.AuthorizedOperations != 1<<acl.OpDescribe {
		t.Errorf("cluster operations %b", m.AuthorizedOperations)
	}
	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.IncludeClusterAuthorizedOperations = true
	dresp, err := dc.RequestWith(ctx, carol)
	if err != nil || dresp.ClusterAuthorizedOperations != 1<<acl.OpDescribe {
		t.Errorf("DescribeCluster: %v %b", err, dresp.ClusterAuthorizedOperations)
	}
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups, dg.IncludeAuthorizedOperations = []string{"cg"}, true
	gresp, err := carol.SeedBrokers()[0].Request(ctx, dg)
	if err != nil {
		t.Fatal(err)
	}
	if g := gresp.(*kmsg.DescribeGroupsResponse).Groups; len(g) != 1 || g[0].AuthorizedOperations != 1<<acl.OpRead|1<<acl.OpDescribe {
		t.Errorf("DescribeGroups: %+v", g)
	}
	// A new ACL applies to the next request (the index follows the store).
	createACLs(t, admin, grant{acl.ResourceTopic, "invisible", acl.OpDescribe}.binding("User:carol"))
	resp, err = carol.SeedBrokers()[0].Request(ctx, kmsg.NewPtrMetadataRequest())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.(*kmsg.MetadataResponse).Topics); n != 2 {
		t.Fatalf("after the grant carol sees %d topics", n)
	}
	if !errors.Is(err, nil) {
		t.Fatal(err)
	}
}
