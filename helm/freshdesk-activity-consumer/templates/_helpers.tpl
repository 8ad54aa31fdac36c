{{/* The chart's name, at most 63 characters (a DNS label). */}}
{{- define "fdac.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of every object: the release name, plus the chart's name unless the release name
already contains it. At most 63 characters, because some Kubernetes name fields are DNS labels.
*/}}
{{- define "fdac.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "fdac.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "fdac.labels" -}}
helm.sh/chart: {{ include "fdac.chart" . }}
{{ include "fdac.selectorLabels" . }}
app.kubernetes.io/version: {{ include "fdac.imageTag" . | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: consumer
{{- end }}

{{/* The labels that select this release's pods: never change them in an upgrade. */}}
{{- define "fdac.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fdac.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "fdac.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fdac.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "fdac.secretName" -}}
{{- default (include "fdac.fullname" .) .Values.secret.existingSecret }}
{{- end }}

{{- define "fdac.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest is given (it wins: immutable). */}}
{{- define "fdac.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "fdac.imageTag" .) }}
{{- end }}
{{- end }}

{{/*
The pod's grace period: SIGTERM starts the drain (processing.drain_timeout_s), then the final
commit and the group leave (processing.close_timeout_s); the margin covers the process' exit.
Kubernetes kills the pod at the end of it, so a shorter one would cut the drain and leave
claims and offsets behind. An override below the minimum fails the render.
*/}}
{{- define "fdac.minimumGracePeriod" -}}
{{- $p := .Values.config.processing | default dict }}
{{- $drain := $p.drain_timeout_s | default 20 | float64 }}
{{- $close := $p.close_timeout_s | default 30 | float64 }}
{{- addf $drain $close .Values.gracePeriodMarginSeconds | ceil | int }}
{{- end }}

{{- define "fdac.terminationGracePeriodSeconds" -}}
{{- $min := include "fdac.minimumGracePeriod" . | int }}
{{- $set := .Values.terminationGracePeriodSeconds }}
{{- if kindIs "invalid" $set }}
{{- $min }}
{{- else if lt (int $set) $min }}
{{- fail (printf "terminationGracePeriodSeconds %d is below processing.drain_timeout_s + processing.close_timeout_s + gracePeriodMarginSeconds = %d: Kubernetes would kill the pod before its drain, final commit and group leave finish. Set it to at least %d, or leave it unset (null) to use %d." (int $set) $min $min $min) }}
{{- else }}
{{- int $set }}
{{- end }}
{{- end }}

{{/* The ledger backend, checked: memory needs the operator's acknowledgement. */}}
{{- define "fdac.ledgerBackend" -}}
{{- $backend := (.Values.config.ledger | default dict).backend | default "redis" }}
{{- if and (eq $backend "memory") (not .Values.acknowledgeMemoryLedgerForgetsOnRestart) }}
{{- fail "config.ledger.backend is memory: the memory ledger forgets every delivery when a pod restarts, so a replay after a restart or rebalance posts activities a second time (no exactly-once across restarts). Use backend redis (the default) with secret.ledgerRedisUrl, or set acknowledgeMemoryLedgerForgetsOnRestart: true to accept duplicates." }}
{{- end }}
{{- $backend }}
{{- end }}

{{/* The env var names the subscription file refers to, and the secret keys they come from. */}}
{{- define "fdac.secretEnv" -}}
- name: FRESHDESK_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "fdac.secretName" . }}
      key: {{ .Values.secret.keys.freshdeskApiKey }}
{{- if eq (include "fdac.ledgerBackend" .) "redis" }}
- name: LEDGER_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "fdac.secretName" . }}
      key: {{ .Values.secret.keys.ledgerRedisUrl }}
{{- end }}
{{- if .Values.secret.kafkaSasl }}
- name: KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ include "fdac.secretName" . }}
      key: {{ .Values.secret.keys.kafkaSaslUsername }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "fdac.secretName" . }}
      key: {{ .Values.secret.keys.kafkaSaslPassword }}
{{- end }}
{{- end }}

{{/*
The subscription file: config from values, with ${VAR} references where secrets go (the
consumer expands them from the environment at start-up; the ConfigMap never holds a secret).
*/}}
{{- define "fdac.subscriptionFile" -}}
{{- $c := deepCopy .Values.config }}
{{- $kafka := $c.kafka | default dict }}
{{- if .Values.secret.kafkaSasl }}
{{- $_ := set $kafka "sasl.username" "${KAFKA_SASL_USERNAME}" }}
{{- $_ := set $kafka "sasl.password" "${KAFKA_SASL_PASSWORD}" }}
{{- end }}
{{- $fd := $c.freshdesk | default dict }}
{{- /* base_url (a sandbox, a proxy) replaces the default domain: the consumer takes one. */}}
{{- if $fd.base_url }}
{{- $_ := unset $fd "domain" }}
{{- end }}
{{- $_ := set $fd "api_key" "${FRESHDESK_API_KEY}" }}
{{- $ledger := $c.ledger | default dict }}
{{- $_ := set $ledger "backend" (include "fdac.ledgerBackend" .) }}
{{- if eq (include "fdac.ledgerBackend" .) "redis" }}
{{- $_ := set $ledger "url" "${LEDGER_REDIS_URL}" }}
{{- end }}
{{- $contacts := $c.contacts | default dict }}
{{- /* Replicas share what they learn: the directory lives in the ledger's Redis by default. */}}
{{- if not $contacts.backend }}
{{- $_ := set $contacts "backend" (include "fdac.ledgerBackend" .) }}
{{- end }}
{{- $processing := $c.processing | default dict }}
{{- /* Memory in bytes: an eighth of the pod's memory limit, unless the values say. */}}
{{- $limit := include "fdac.memoryLimitBytes" . | int64 }}
{{- if and (not (hasKey $processing "max_pending_bytes")) (gt $limit 0) }}
{{- $_ := set $processing "max_pending_bytes" (max 1048576 (div $limit 8)) }}
{{- end }}
{{- $_ := set $c "processing" $processing }}
{{- $metrics := $c.metrics | default dict }}
{{- /* The probes and the scraper need the server, on every interface of the pod. */}}
{{- $_ := set $metrics "enabled" true }}
{{- $_ := set $metrics "host" "0.0.0.0" }}
{{- $out := dict "kafka" $kafka "freshdesk" $fd "ledger" $ledger "contacts" $contacts "metrics" $metrics }}
{{- range $k := list "processing" "dead_letter" "log" "schema_registry" "subscriptions" }}
{{- if hasKey $c $k }}
{{- $_ := set $out $k (get $c $k) }}
{{- end }}
{{- end }}
# Rendered by the freshdesk-activity-consumer chart from its values; ${VAR} comes from the
# pod's environment (the Secret). Check it: activity-consumer check-config subscriptions.yaml
{{ toYaml $out }}
{{- end }}

{{/*
resources.limits.memory in bytes (0 without one): Ki/Mi/Gi/Ti, k/M/G/T, or a plain number.
*/}}
{{- define "fdac.memoryLimitBytes" -}}
{{- $raw := toString ((.Values.resources | default dict).limits | default dict).memory | default "" }}
{{- $units := dict "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "k" 1000 "K" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 }}
{{- $bytes := 0 }}
{{- if regexMatch "^[0-9]+$" $raw }}
{{- $bytes = $raw | int64 }}
{{- else if regexMatch "^[0-9]+(Ki|Mi|Gi|Ti|k|K|M|G|T)$" $raw }}
{{- $n := regexFind "^[0-9]+" $raw | int64 }}
{{- $unit := trimPrefix (toString $n) $raw }}
{{- $bytes = mul $n (get $units $unit) }}
{{- end }}
{{- $bytes }}
{{- end }}

{{/*
The egress proxy as the environment every HTTP client reads (both cases, as curl does).
*/}}
{{- define "fdac.proxyEnv" -}}
{{- $p := .Values.proxy | default dict }}
{{- $secret := $p.existingSecret | default dict }}
{{- range $name := list "HTTPS_PROXY" "https_proxy" "HTTP_PROXY" "http_proxy" }}
{{- if $secret.name }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret.name }}
      key: {{ $secret.key }}
{{- else if and (hasPrefix "HTTPS" (upper $name)) $p.https }}
- name: {{ $name }}
  value: {{ $p.https | quote }}
{{- else if and (hasPrefix "HTTP_" (upper $name)) $p.http }}
- name: {{ $name }}
  value: {{ $p.http | quote }}
{{- end }}
{{- end }}
{{- if $p.noProxy }}
- name: NO_PROXY
  value: {{ $p.noProxy | quote }}
- name: no_proxy
  value: {{ $p.noProxy | quote }}
{{- end }}
{{- end }}

{{- define "fdac.metricsPort" -}}
{{- (.Values.config.metrics | default dict).port | default 9102 | int }}
{{- end }}
