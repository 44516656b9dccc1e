{{/* Name of the release's objects: <release>-moldau, or the release name if it already contains "moldau". */}}
{{- define "moldau.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "moldau.headless" -}}
{{- printf "%s-headless" (include "moldau.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "moldau.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: broker
{{- end -}}

{{- define "moldau.labels" -}}
{{ include "moldau.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The replica count, after checking the values (replicas was renamed replicaCount in chart 0.2.0). */}}
{{- define "moldau.replicaCount" -}}
{{- if hasKey .Values "replicas" -}}
{{- fail "the value replicas was renamed replicaCount (chart 0.2.0)" -}}
{{- end -}}
{{- $n := int .Values.replicaCount -}}
{{- if lt $n 1 -}}
{{- fail (printf "replicaCount must be at least 1, got %v" .Values.replicaCount) -}}
{{- end -}}
{{- $n -}}
{{- end -}}

{{/*
Every voter's inter-broker address, this pod's included, for MOLDAU_PEERS:
<ordinal>@<fullname>-<ordinal>.<headless>.$(POD_NAMESPACE).svc.<clusterDomain>:<peer port>.
Node ids are the pod ordinals, the same values MOLDAU_NODE_ID takes from the
pod-index label. $(POD_NAMESPACE) is expanded by Kubernetes.
*/}}
{{- define "moldau.peers" -}}
{{- $peers := list -}}
{{- $full := include "moldau.fullname" . -}}
{{- $headless := include "moldau.headless" . -}}
{{- range $i := until (int (include "moldau.replicaCount" .)) -}}
{{- $peers = append $peers (printf "%d@%s-%d.%s.$(POD_NAMESPACE).svc.%s:%v" $i $full $i $headless $.Values.clusterDomain $.Values.ports.peer) -}}
{{- end -}}
{{- join "," $peers -}}
{{- end -}}

{{/*
Cluster mode (replicaCount > 1): the replication defaults of .Values.cluster
as a YAML map of strings; {} for a single node. The StatefulSet merges them
under .Values.properties, which wins when both set a key.
*/}}
{{- define "moldau.clusterProperties" -}}
{{- $n := int (include "moldau.replicaCount" .) -}}
{{- $props := dict -}}
{{- if gt $n 1 -}}
{{- $rf := .Values.cluster.defaultReplicationFactor | default (min 3 $n) | int -}}
{{- $isr := .Values.cluster.minInsyncReplicas | default (max 1 (sub $rf 1)) | int -}}
{{- $props = dict "default.replication.factor" (toString $rf) "min.insync.replicas" (toString $isr) -}}
{{- end -}}
{{- toYaml $props -}}
{{- end -}}

{{/*
The bind address of an HTTP front end on port (0.0.0.0:<port>), "" (off)
when the port value is empty.
*/}}
{{- define "moldau.frontEndAddr" -}}
{{- if . }}0.0.0.0:{{ . }}{{ end -}}
{{- end }}

{{/*
The HTTP front ends' named ports, those whose port value is set: container
ports (container true) or Service ports targeting them.
*/}}
{{- define "moldau.frontEndPorts" -}}
{{- $p := .values.ports -}}
{{- range $name, $port := dict "schema-registry" $p.schemaRegistry "console" $p.console "http-proxy" $p.httpProxy }}
{{- if $port }}
{{- if $.container }}
- name: {{ $name }}
  containerPort: {{ $port }}
  protocol: TCP
{{- else }}
- name: {{ $name }}
  port: {{ $port }}
  targetPort: {{ $name }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
