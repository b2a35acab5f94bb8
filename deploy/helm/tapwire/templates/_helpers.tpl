{{/* Names and labels shared by every object of the chart. */}}
{{- define "tapwire.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tapwire.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tapwire.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tapwire.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tapwire.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "tapwire.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "tapwire.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tapwire.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tapwire.adminSecretName" -}}
{{- default (printf "%s-admin" (include "tapwire.fullname" .)) .Values.adminToken.existingSecret -}}
{{- end -}}

{{/* tapwire.yaml: the user's config with listen and admin set from the chart's ports. */}}
{{- define "tapwire.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $_ := set $cfg "listen" (printf "0.0.0.0:%d" (int .Values.ports.http)) -}}
{{- $_ := set $cfg "admin" (dict "listen" (printf "0.0.0.0:%d" (int .Values.ports.admin)) "token" "${TAPWIRE_ADMIN_TOKEN}") -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* Refuses combinations that would run but mislead. */}}
{{- define "tapwire.checks" -}}
{{- $many := or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) -}}
{{- $storage := default "memory" .Values.config.storage -}}
{{- $compares := false -}}
{{- range .Values.config.routes -}}
{{- if hasKey . "compare" -}}{{- $compares = true -}}{{- end -}}
{{- end -}}
{{- if and $many $compares (not (hasPrefix "postgres" $storage)) -}}
{{- fail (printf "config.storage is %q with several replicas: each pod would compute its own verdict from a part of the traffic. A route compares, so use storage: postgres://... (docs/SCALING.md) or replicaCount: 1 without autoscaling." $storage) -}}
{{- end -}}
{{- if and .Values.persistence.existingClaim $many -}}
{{- fail "persistence.existingClaim with several replicas: a ReadWriteOnce claim cannot be shared by several pods; use one replica or storage: postgres://..." -}}
{{- end -}}
{{- if eq (int .Values.ports.http) (int .Values.ports.admin) -}}
{{- fail "ports.http and ports.admin must differ" -}}
{{- end -}}
{{- end -}}
