{{/* Name of the chart, truncated to the 63 characters Kubernetes allows in names. */}}
{{- define "football-api.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name: "<release>" when it already contains the chart name. */}}
{{- define "football-api.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "football-api.selectorLabels" -}}
app.kubernetes.io/name: {{ include "football-api.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Common labels; the component is `api` unless the context carries another (mlflow.yaml passes "mlflow"). */}}
{{- define "football-api.labels" -}}
{{ include "football-api.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: {{ .component | default "api" }}
{{- range $k, $v := .Values.networkPolicy.platformPodLabels }}
{{ $k }}: {{ $v | quote }}
{{- end }}
{{- end -}}

{{- define "football-api.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "football-api.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}
