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
)

// apiError is an error answered as {"error_code":code,"message":msg}.
type apiError struct {
	status int
	code   int
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("schemareg: %d %s", e.code, e.msg) }

func errSubjectNotFound(subject string) *apiError {
	return &apiError{http.StatusNotFound, 40401, fmt.Sprintf("Subject '%s' not found.", subject)}
}

func errVersionNotFound(version int) *apiError {
	return &apiError{http.StatusNotFound, 40402, fmt.Sprintf("Version %d not found.", version)}
}

func errSchemaNotFound() *apiError {
	return &apiError{http.StatusNotFound, 40403, "Schema not found"}
}

func errSchemaIDNotFound(id int) *apiError {
	return &apiError{http.StatusNotFound, 40403, fmt.Sprintf("Schema %d not found", id)}
}

func errSubjectSoftDeleted(subject string) *apiError {
	return &apiError{http.StatusNotFound, 40404, fmt.Sprintf("Subject '%s' was soft deleted.Set permanent=true to delete permanently", subject)}
}

func errSubjectNotSoftDeleted(subject string) *apiError {
	return &apiError{http.StatusNotFound, 40405, fmt.Sprintf("Subject '%s' was not deleted first before being permanently deleted", subject)}
}

func errVersionSoftDeleted(subject string, version int) *apiError {
	return &apiError{http.StatusNotFound, 40406, fmt.Sprintf("Subject '%s' Version %d was soft deleted.Set permanent=true to delete permanently", subject, version)}
}

func errVersionNotSoftDeleted(subject string, version int) *apiError {
	return &apiError{http.StatusNotFound, 40407, fmt.Sprintf("Subject '%s' Version %d was not deleted first before being permanently deleted", subject, version)}
}

func errSubjectCompatibilityNotConfigured(subject string) *apiError {
	return &apiError{http.StatusNotFound, 40408, fmt.Sprintf("Subject '%s' does not have subject-level compatibility configured", subject)}
}

func errSubjectModeNotConfigured(subject string) *apiError {
	return &apiError{http.StatusNotFound, 40409, fmt.Sprintf("Subject '%s' does not have subject-level mode configured", subject)}
}

// errIncompatible: Confluent 7.x answers error_code 409 (8.2 moved to
// 40901); clients key on the HTTP status.
func errIncompatible(subject string, details string) *apiError {
	return &apiError{http.StatusConflict, 409, fmt.Sprintf("Schema being registered is incompatible with an earlier schema for subject \"%s\", details: %s", subject, details)}
}

func errInvalidSchema(msg string) *apiError {
	return &apiError{http.StatusUnprocessableEntity, 42201, msg}
}

// errInvalidVersion: version is what VersionId failed on: the text as
// sent when it is not a number, else the number (so "00" reads "0").
func errInvalidVersion(version string) *apiError {
	return &apiError{http.StatusUnprocessableEntity, 42202, fmt.Sprintf("The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", version)}
}

func errInvalidCompatibility() *apiError {
	return &apiError{http.StatusUnprocessableEntity, 42203, "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive"}
}

// errInvalidMode: RestInvalidModeException's default sentence in 7.9
// (READONLY_OVERRIDE is accepted all the same; 8.1 lists "READWRITE,
// READONLY, IMPORT and FORWARD").
func errInvalidMode() *apiError {
	return &apiError{http.StatusUnprocessableEntity, 42204, "Invalid mode. Valid values are READWRITE, READONLY, and IMPORT."}
}

func errNotPermitted(msg string) *apiError {
	return &apiError{http.StatusUnprocessableEntity, 42205, msg}
}

func errReferenceExists(subject string, version int) *apiError {
	return &apiError{http.StatusUnprocessableEntity, 42206, fmt.Sprintf("One or more references exist to the schema {magic=1,keytype=SCHEMA,subject=%s,version=%d}.", subject, version)}
}

func errIDDoesNotMatch(id int) *apiError {
	return &apiError{http.StatusUnprocessableEntity, 42207, fmt.Sprintf("Overwrite new schema with id %d is not permitted.", id)}
}

// errInvalidSubject: RestInvalidSubjectException's sentence, its
// grammar included ("is not a valid.").
func errInvalidSubject(subject string) *apiError {
	return &apiError{http.StatusUnprocessableEntity, 42208, fmt.Sprintf("The specified subject '%s' is not a valid.", subject)}
}

// errFromInternal maps store-side errors to Confluent's 500s.
func errFromInternal(op string, err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{http.StatusInternalServerError, 50002, op + " operation timed out"}
	case errors.Is(err, ErrLogUnavailable), errors.Is(err, ErrClosed):
		return &apiError{http.StatusInternalServerError, 50003, "Error while forwarding the request to the primary: " + err.Error()}
	default:
		return &apiError{http.StatusInternalServerError, 50001, op + " operation failed while writing to the Kafka store: " + err.Error()}
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
