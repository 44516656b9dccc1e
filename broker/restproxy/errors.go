package restproxy

import (
	"encoding/json"
	"net/http"
)

// errorBody is Confluent REST Proxy's error answer, v2 and v3 alike:
// {"error_code":40403,"message":"This server does not host this topic-partition."}.
// error_code is the HTTP status, or a five-digit refinement of it
// (40401 topic not found, 40403 ..., 42206 ...), as kafka-rest's
// exceptions define them.
type errorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

// writeError writes Confluent's error body with the given HTTP status and
// error code (errorCode 0: the status itself).
func writeError(w http.ResponseWriter, status int, errorCode int, msg string) {
	if errorCode == 0 {
		errorCode = status
	}
	writeJSON(w, status, errorBody{ErrorCode: errorCode, Message: msg})
}

// writeJSON writes v as the JSON answer with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		data, _ = json.Marshal(errorBody{ErrorCode: status, Message: "restproxy: encoding the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// tooManyLogins answers a request the client pool's login limiter turned
// away (webclient.ErrBusy): 429 with Retry-After, error_code 42901 as
// kafka-rest's rate limiter answers.
func tooManyLogins(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusTooManyRequests, 42901, "Too many requests: too many new logins at once; retry in a moment")
}
