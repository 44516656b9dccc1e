package console

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

type aclEntry struct {
	ResourceType string `json:"resource_type"`
	ResourceName string `json:"resource_name"`
	PatternType  string `json:"pattern_type"`
	Principal    string `json:"principal"`
	Host         string `json:"host"`
	Operation    string `json:"operation"`
	Permission   string `json:"permission"`
}

func (s *Server) listACLs(w http.ResponseWriter, r *http.Request) error {
	cl, err := s.client(r)
	if err != nil {
		return err
	}
	resp, err := describeAllACLs(r, cl.Kgo)
	if err != nil {
		return err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		if errors.Is(err, kerr.SecurityDisabled) {
			writeJSON(w, http.StatusOK, map[string]any{"enabled": false, "acls": []aclEntry{}})
			return nil
		}
		if resp.ErrorMessage != nil {
			return withMessage(err, *resp.ErrorMessage)
		}
		return err
	}
	acls := []aclEntry{}
	for _, res := range resp.Resources {
		for _, a := range res.ACLs {
			acls = append(acls, aclEntry{ResourceType: res.ResourceType.String(), ResourceName: res.ResourceName,
				PatternType: res.ResourcePatternType.String(), Principal: a.Principal, Host: a.Host,
				Operation: a.Operation.String(), Permission: a.PermissionType.String()})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"enabled": true, "acls": acls})
	return nil
}

type userMechanism struct {
	Mechanism  string `json:"mechanism"`
	Iterations int32  `json:"iterations"`
}

type userEntry struct {
	User       string          `json:"user"`
	Mechanisms []userMechanism `json:"mechanisms"`
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	cl, err := s.client(r)
	if err != nil {
		return err
	}
	described, err := cl.Admin.DescribeUserSCRAMs(r.Context())
	if err != nil {
		return err
	}
	users := []userEntry{}
	for _, u := range described {
		if u.Err != nil {
			if errors.Is(u.Err, kerr.ResourceNotFound) {
				continue
			}
			return withMessage(u.Err, u.ErrMessage)
		}
		e := userEntry{User: u.User, Mechanisms: []userMechanism{}}
		for _, c := range u.CredInfos {
			e.Mechanisms = append(e.Mechanisms, userMechanism{Mechanism: scramName(c.Mechanism), Iterations: c.Iterations})
		}
		users = append(users, e)
	}
	slices.SortFunc(users, func(a, b userEntry) int { return cmp.Compare(a.User, b.User) })
	writeJSON(w, http.StatusOK, map[string]any{"users": users})
	return nil
}

func scramName(m kadm.ScramMechanism) string {
	switch m {
	case kadm.ScramSha256:
		return "SCRAM-SHA-256"
	case kadm.ScramSha512:
		return "SCRAM-SHA-512"
	}
	return strings.ToUpper(m.String())
}
