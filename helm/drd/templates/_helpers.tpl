{{/* The chart's name, overridable. */}}
{{- define "drd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name, with the chart name unless it already contains it. */}}
{{- define "drd.fullname" -}}
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

{{- define "drd.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "drd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "drd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "drd.labels" -}}
helm.sh/chart: {{ include "drd.chart" . }}
{{ include "drd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: drd
{{- end }}

{{- define "drd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "drd.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "drd.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "drd.configMapName" -}}
{{- default (printf "%s-config" (include "drd.fullname" .)) .Values.config.existingConfigMap }}
{{- end }}

{{- define "drd.runbooksConfigMapName" -}}
{{- default (printf "%s-runbooks" (include "drd.fullname" .)) .Values.runbooks.existingConfigMap }}
{{- end }}

{{- define "drd.sqliteClaimName" -}}
{{- default (printf "%s-state" (include "drd.fullname" .)) .Values.store.sqlite.persistence.existingClaim }}
{{- end }}

{{/* Render-time checks: settings that cannot work fail here with a message saying what to change. */}}
{{- define "drd.validate" -}}
{{- if and (eq .Values.store.type "sqlite") (gt (int .Values.replicaCount) 1) }}
{{- fail (printf "store.type=sqlite supports exactly one replica (one writer on a ReadWriteOnce volume), but replicaCount=%d: set replicaCount=1, or use store.type=postgres with store.postgres.existingSecret for HA" (int .Values.replicaCount)) }}
{{- end }}
{{- if and (eq .Values.store.type "postgres") (not .Values.store.postgres.existingSecret) }}
{{- fail "store.type=postgres needs store.postgres.existingSecret: the name of a Secret holding the postgresql:// URL (key store.postgres.key)" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leader.enabled) }}
{{- fail (printf "replicaCount=%d with leader.enabled=false would let every replica act: enable leader election or run one replica" (int .Values.replicaCount)) }}
{{- end }}
{{- if not (lt (float64 .Values.leader.renewDeadlineSeconds) (float64 .Values.leader.leaseDurationSeconds)) }}
{{- fail "leader.renewDeadlineSeconds must be shorter than leader.leaseDurationSeconds (a leader must stop acting before another may start)" }}
{{- end }}
{{- if and .Values.config.existingConfigMap .Values.config.files }}
{{- fail "config: set either existingConfigMap or files, not both" }}
{{- end }}
{{- if and .Values.runbooks.existingConfigMap .Values.runbooks.files }}
{{- fail "runbooks: set either existingConfigMap or files, not both" }}
{{- end }}
{{- end }}

{{/* A Secret-backed environment variable. */}}
{{- define "drd.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret | quote }}
      key: {{ .key | quote }}
{{- end }}
