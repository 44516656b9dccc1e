package schemareg

// The HTTP API's errors: Confluent's status codes, error codes and
// messages (Confluent's rest/exceptions/Errors.java and its Rest*Exception
// classes). The reference is Confluent Schema Registry 7.9 (the last 7.x);
// where 8.x answers otherwise the comment says so.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/moldau/moldau/broker/schemareg/schema"
)

// apiError is an error answered as {"error_code":code,"message":msg}.
type apiError struct {
	status int
	code   int
	msg    string
	// failure is set on a 42201 for a schema the format could not parse:
	// the request's answer names the request (forRequest).
	failure *parseFailure
}

// parseFailure is a format's refusal of a schema text.
type parseFailure struct {
	text       string
	refs       []Reference
	schemaType string
	details    string
}

// forRequest is e answered for q under subject: a parse failure reads
// as Confluent's KafkaSchemaRegistry.loadSchema words it, "Invalid schema
// " + the request's Schema (Schema.toString: version 0 and id -1 when
// not given) + " with refs " + refs + " of type " + type + ", details: "
// + the parser's message (that last part is the Go parser's, not Java's).
func (e *apiError) forRequest(subject string, q registerRequest) *apiError {
	if e == nil || e.failure == nil {
		return e
	}
	f := e.failure
	if strings.HasPrefix(f.details, "Invalid schema") { // the format's own complete sentence
		return e
	}
	version, id := q.Version, q.ID
	if id <= 0 {
		id = -1
	}
	schemaType := q.SchemaType
	if schemaType == "" {
		schemaType = schema.Avro
	}
	refs := refsString(q.References)
	msg := fmt.Sprintf("Invalid schema {subject=%s,version=%d,id=%d,schemaType=%s,references=%s,metadata=null,ruleSet=null,schema=%s,schemaTags=null} with refs %s of type %s, details: %s",
		subject, version, id, schemaType, refs, q.Schema, refs, f.schemaType, f.details)
	return &apiError{e.status, e.code, msg, nil}
}

func (e *apiError) Error() string { return fmt.Sprintf("schemareg: %d %s", e.code, e.msg) }

func errSubjectNotFound(subject string) *apiError {
	return &apiError{http.StatusNotFound, 40401, fmt.Sprintf("Subject '%s' not found.", subject), nil}
}

func errVersionNotFound(version int) *apiError {
	return &apiError{http.StatusNotFound, 40402, fmt.Sprintf("Version %d not found.", version), nil}
}

func errSchemaNotFound() *apiError {
	return &apiError{http.StatusNotFound, 40403, "Schema not found", nil}
}

func errSchemaIDNotFound(id int) *apiError {
	return &apiError{http.StatusNotFound, 40403, fmt.Sprintf("Schema %d not found", id), nil}
}

func errSubjectSoftDeleted(subject string) *apiError {
	return &apiError{http.StatusNotFound, 40404, fmt.Sprintf("Subject '%s' was soft deleted.Set permanent=true to delete permanently", subject), nil}
}

func errSubjectNotSoftDeleted(subject string) *apiError {
	return &apiError{http.StatusNotFound, 40405, fmt.Sprintf("Subject '%s' was not deleted first before being permanently deleted", subject), nil}
}

func errVersionSoftDeleted(subject string, version int) *apiError {
	return &apiError{http.StatusNotFound, 40406, fmt.Sprintf("Subject '%s' Version %d was soft deleted.Set permanent=true to delete permanently", subject, version), nil}
}

func errVersionNotSoftDeleted(subject string, version int) *apiError {
	return &apiError{http.StatusNotFound, 40407, fmt.Sprintf("Subject '%s' Version %d was not deleted first before being permanently deleted", subject, version), nil}
}

func errSubjectCompatibilityNotConfigured(subject string) *apiError {
	return &apiError{http.StatusNotFound, 40408, fmt.Sprintf("Subject '%s' does not have subject-level compatibility configured", subject), nil}
}

func errSubjectModeNotConfigured(subject string) *apiError {
	return &apiError{http.StatusNotFound, 40409, fmt.Sprintf("Subject '%s' does not have subject-level mode configured", subject), nil}
}

// errIncompatible: Confluent 7.x answers error_code 409 (8.2 moved to
// 40901); clients key on the HTTP status.
func errIncompatible(subject string, details string) *apiError {
	return &apiError{http.StatusConflict, 409, fmt.Sprintf("Schema being registered is incompatible with an earlier schema for subject \"%s\", details: %s", subject, details), nil}
}

func errInvalidSchema(msg string) *apiError {
	return &apiError{http.StatusUnprocessableEntity, 42201, msg, nil}
}

// errInvalidVersion: version is what VersionId failed on: the text as
// sent when it is not a number, else the number (so "00" reads "0").
func errInvalidVersion(version string) *apiError {
	return &apiError{http.StatusUnprocessableEntity, 42202, fmt.Sprintf("The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", version), nil}
}

func errInvalidCompatibility() *apiError {
	return &apiError{http.StatusUnprocessableEntity, 42203, "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive", nil}
}

// errInvalidMode: RestInvalidModeException's default sentence in 7.9
// (READONLY_OVERRIDE is accepted all the same; 8.1 lists "READWRITE,
// READONLY, IMPORT and FORWARD").
func errInvalidMode() *apiError {
	return &apiError{http.StatusUnprocessableEntity, 42204, "Invalid mode. Valid values are READWRITE, READONLY, and IMPORT.", nil}
}

func errNotPermitted(msg string) *apiError {
	return &apiError{http.StatusUnprocessableEntity, 42205, msg, nil}
}

func errReferenceExists(subject string, version int) *apiError {
	return &apiError{http.StatusUnprocessableEntity, 42206, fmt.Sprintf("One or more references exist to the schema {magic=1,keytype=SCHEMA,subject=%s,version=%d}.", subject, version), nil}
}

// errIDDoesNotMatch: an import of an id already holding another schema.
// Confluent 7.9's checkIfSchemaWithIdExist throws it as an
// OperationNotPermittedException, so it is a 42205 (42207 is declared but
// not thrown there).
func errIDDoesNotMatch(id int) *apiError {
	return errNotPermitted(fmt.Sprintf("Overwrite new schema with id %d is not permitted.", id))
}

// errInvalidSubject: RestInvalidSubjectException's sentence, its
// grammar included ("is not a valid.").
func errInvalidSubject(subject string) *apiError {
	return &apiError{http.StatusUnprocessableEntity, 42208, fmt.Sprintf("The specified subject '%s' is not a valid.", subject), nil}
}

// errFromInternal maps store-side errors to Confluent's 500s.
func errFromInternal(op string, err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{http.StatusInternalServerError, 50002, op + " operation timed out", nil}
	case errors.Is(err, ErrLogUnavailable), errors.Is(err, ErrClosed):
		return &apiError{http.StatusInternalServerError, 50003, "Error while forwarding the request to the primary: " + err.Error(), nil}
	default:
		return &apiError{http.StatusInternalServerError, 50001, op + " operation failed while writing to the Kafka store: " + err.Error(), nil}
	}
}

// errReadOnly: KafkaSchemaRegistry's read-only refusal; the global
// scope reads "Subject null" there (Java's null subject).
func errReadOnly(subject string) *apiError {
	if subject == "" {
		subject = "null"
	}
	return errNotPermitted(fmt.Sprintf("Subject %s is in read-only mode", subject))
}
