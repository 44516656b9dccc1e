package broker

// DescribeCluster, key 60, versions 0–2.
//
//   - Every version: the brokers and the controller of the cluster view
//     (cluster.go; one node today: this one, its own controller), the
//     cluster id, and the cluster authorized operations when asked (every
//     operation without an authorizer; authorize.go's with one).
//   - v1+: EndpointType: 1 (brokers) answers the brokers, 2 (controllers)
//     the controller; any other type is UNSUPPORTED_ENDPOINT_TYPE, as in
//     Kafka.
//   - v2: IncludeFencedBrokers (no broker is ever fenced).

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

const (
	endpointTypeBrokers     int8 = 1
	endpointTypeControllers int8 = 2
)

func (b *Broker) handleDescribeCluster(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DescribeClusterRequest)
	resp := r.ResponseKind().(*kmsg.DescribeClusterResponse)
	endpoint := r.EndpointType
	if r.Version < 1 {
		endpoint = endpointTypeBrokers // not in the request
	}
	resp.EndpointType = endpoint
	resp.ClusterID = b.clusterID()
	resp.ControllerID = b.cluster.controllerID()
	resp.ClusterAuthorizedOperations = opsNotAsked
	if endpoint != endpointTypeBrokers && endpoint != endpointTypeControllers {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		resp.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("unsupported endpoint type %d (1: brokers, 2: controllers)", endpoint))
		return respond(resp)
	}
	if r.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = allClusterOps
	}
	for _, n := range b.cluster.brokers() {
		if endpoint == endpointTypeControllers && n.id != resp.ControllerID {
			continue
		}
		host, port, ok := n.endpointFor(listenerOf(req))
		if !ok {
			continue // as Kafka: only brokers with the request's listener
		}
		br := kmsg.NewDescribeClusterResponseBroker()
		br.NodeID, br.Host, br.Port, br.Rack = n.id, host, port, n.rack
		resp.Brokers = append(resp.Brokers, br)
	}
	return respond(resp)
}
