package console

import (
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type brokerInfo struct {
	ID         int32   `json:"id"`
	Host       string  `json:"host"`
	Port       int32   `json:"port"`
	Rack       *string `json:"rack"`
	Controller bool    `json:"controller"`
	Leaders    int     `json:"leaders"`
	Replicas   int     `json:"replicas"`
}

type overview struct {
	ClusterID       string         `json:"cluster_id"`
	ControllerID    int32          `json:"controller_id"`
	Version         string         `json:"version"`
	Brokers         []brokerInfo   `json:"brokers"`
	Topics          int            `json:"topics"`
	InternalTopics  int            `json:"internal_topics"`
	Partitions      int            `json:"partitions"`
	UnderReplicated int            `json:"under_replicated"`
	Offline         int            `json:"offline"`
	LeadersByBroker map[string]int `json:"leaders_by_broker"`
	SchemaRegistry  bool           `json:"schema_registry"`
	SASL            bool           `json:"sasl"`
	Authorizer      bool           `json:"authorizer"`
	BytesInPerSec   float64        `json:"bytes_in_per_sec"`
	BytesOutPerSec  float64        `json:"bytes_out_per_sec"`
	RecordsInPerSec float64        `json:"records_in_per_sec"`
}

func (s *Server) getOverview(w http.ResponseWriter, r *http.Request) error {
	cl, err := s.client(r)
	if err != nil {
		return err
	}
	md, err := cl.Admin.Metadata(r.Context())
	if err != nil {
		return err
	}
	out := overview{ClusterID: md.Cluster, ControllerID: md.Controller, Version: s.cfg.Version,
		Brokers: []brokerInfo{}, LeadersByBroker: map[string]int{},
		SchemaRegistry: s.cfg.Registry != nil, SASL: s.cfg.Clients.AuthRequired()}
	idx := map[int32]int{}
	for _, b := range md.Brokers {
		idx[b.NodeID] = len(out.Brokers)
		out.Brokers = append(out.Brokers, brokerInfo{ID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack,
			Controller: b.NodeID == md.Controller})
		out.LeadersByBroker[strconv.Itoa(int(b.NodeID))] = 0
	}
	for _, td := range md.Topics {
		if td.Err != nil {
			continue
		}
		if td.IsInternal {
			out.InternalTopics++
		} else {
			out.Topics++
		}
		for _, pd := range td.Partitions {
			out.Partitions++
			if underReplicated(pd) {
				out.UnderReplicated++
			}
			if pd.Leader < 0 || errors.Is(pd.Err, kerr.LeaderNotAvailable) {
				out.Offline++
			} else {
				out.LeadersByBroker[strconv.Itoa(int(pd.Leader))]++
				if i, ok := idx[pd.Leader]; ok {
					out.Brokers[i].Leaders++
				}
			}
			for _, rep := range pd.Replicas {
				if i, ok := idx[rep]; ok {
					out.Brokers[i].Replicas++
				}
			}
		}
	}
	slices.SortFunc(out.Brokers, func(a, b brokerInfo) int { return int(a.ID - b.ID) })
	if out.Authorizer, err = s.authorizerOn(r, cl.Kgo); err != nil {
		return err
	}
	tp := s.tp.total()
	out.BytesInPerSec, out.BytesOutPerSec, out.RecordsInPerSec = tp.BytesInPerSec, tp.BytesOutPerSec, tp.RecordsInPerSec
	writeJSON(w, http.StatusOK, out)
	return nil
}

// describeAllACLs asks for every ACL binding. SECURITY_DISABLED (no
// authorizer) comes back as the response's error code, not as err.
func describeAllACLs(r *http.Request, cl kmsg.Requestor) (*kmsg.DescribeACLsResponse, error) {
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType = kmsg.ACLResourceTypeAny
	req.ResourcePatternType = kmsg.ACLResourcePatternTypeAny
	req.Operation = kmsg.ACLOperationAny
	req.PermissionType = kmsg.ACLPermissionTypeAny
	return req.RequestWith(r.Context(), cl)
}

// authorizerOn reports whether the broker has an authorizer: DescribeAcls
// answers SECURITY_DISABLED without one. Not being allowed to describe
// ACLs means there is one.
func (s *Server) authorizerOn(r *http.Request, cl kmsg.Requestor) (bool, error) {
	resp, err := describeAllACLs(r, cl)
	if err != nil {
		return false, err
	}
	switch err := kerr.ErrorForCode(resp.ErrorCode); {
	case err == nil:
		return true, nil
	case errors.Is(err, kerr.SecurityDisabled):
		return false, nil
	case errors.Is(err, kerr.ClusterAuthorizationFailed):
		return true, nil
	default:
		return false, err
	}
}
