{{/*
The autoscalers' common rules: one of them at most, and never more replicas than partitions
(a replica beyond the partition count owns nothing, so scaling to it buys nothing).
*/}}
{{- define "fdac.checkAutoscaling" -}}
{{- $a := .Values.autoscaling }}
{{- if and $a.keda.enabled $a.hpa.enabled }}
{{- fail "autoscaling.keda.enabled and autoscaling.hpa.enabled are both on: two autoscalers would fight over the Deployment's replicas. Turn one off (KEDA scales on consumer lag, which is what matters here)." }}
{{- end }}
{{- if or $a.keda.enabled $a.hpa.enabled }}
{{- $max := ternary $a.keda.maxReplicaCount $a.hpa.maxReplicas $a.keda.enabled | int }}
{{- $key := ternary "autoscaling.keda.maxReplicaCount" "autoscaling.hpa.maxReplicas" $a.keda.enabled }}
{{- if lt (int $a.partitions) 1 }}
{{- fail (printf "autoscaling.partitions is not set: give the partition count of the subscribed topics together, so that %s can be checked against it." $key) }}
{{- end }}
{{- if gt $max (int $a.partitions) }}
{{- fail (printf "%s is %d but the subscribed topics have %d partitions (autoscaling.partitions): a consumer group gives each partition to one replica, so replicas beyond %d would own nothing. Lower %s to at most %d, or add partitions first." $key $max (int $a.partitions) (int $a.partitions) $key (int $a.partitions)) }}
{{- end }}
{{- end }}
{{- end }}

{{- define "fdac.autoscaled" -}}
{{- or .Values.autoscaling.keda.enabled .Values.autoscaling.hpa.enabled }}
{{- end }}

{{/*
The Deployment's spec.replicas, never left out: an upgrade whose Deployment has no replicas makes
the API server reset them to 1 (helm removes the field it set before), so turning an autoscaler
on took a running Deployment from 5 replicas to 1 before the autoscaler raised it to its minimum.
- An autoscaler on: the live count (lookup), which the autoscaler owns; on a first install (or
  in helm template, which sees no cluster) the autoscaler's minimum.
- Turning the autoscaler off (the live Deployment says the autoscaler set its count): the larger
  of replicaCount and the live count, so the switch itself scales nothing down; later upgrades
  apply replicaCount.
- Otherwise replicaCount.
*/}}
{{- define "fdac.replicas" -}}
{{- $a := .Values.autoscaling }}
{{- $live := lookup "apps/v1" "Deployment" .Release.Namespace (include "fdac.fullname" .) | default dict }}
{{- $count := dig "spec" "replicas" "" $live }}
{{- $owner := dig "metadata" "annotations" "freshdesk-activity-consumer/replicas" "" $live }}
{{- if eq (include "fdac.autoscaled" .) "true" }}
{{- if ne (toString $count) "" }}
{{- $count | int }}
{{- else }}
{{- ternary $a.keda.minReplicaCount $a.hpa.minReplicas $a.keda.enabled | int }}
{{- end }}
{{- else if and (eq $owner "autoscaler") (ne (toString $count) "") }}
{{- max (int .Values.replicaCount) (int $count) }}
{{- else }}
{{- .Values.replicaCount | int }}
{{- end }}
{{- end }}
