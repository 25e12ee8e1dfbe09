{{- define "contactcenter.labels" -}}
app.kubernetes.io/part-of: contactcenter
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "contactcenter.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "contactcenter.operatorName" -}}
{{ .Release.Name }}-operator
{{- end -}}

{{- define "contactcenter.podSecurityContext" -}}
{{- if .Values.securityContext.enabled }}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  fsGroup: 10001
  seccompProfile: {type: RuntimeDefault}
{{- end }}
{{- end -}}

{{- define "contactcenter.containerSecurityContext" -}}
{{- if .Values.securityContext.enabled }}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  runAsNonRoot: true
  runAsUser: 10001
  capabilities: {drop: ["ALL"]}
  seccompProfile: {type: RuntimeDefault}
{{- end }}
{{- end -}}
