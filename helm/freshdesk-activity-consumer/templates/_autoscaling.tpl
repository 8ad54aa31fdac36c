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
