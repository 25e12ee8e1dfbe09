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

{{- /*
The region's NATS must carry the region in the places the platform relies on: the server tag the
operator places streams with, the cluster (and gateway) name a supercluster routes by, and the pod
label the region's NetworkPolicy lets services reach. A mismatch would install a mesh the region's
data cannot be placed on, so it fails the install with the value to fix.
*/}}
{{- define "contactcenter.checkNats" -}}
{{- if .Values.nats.enabled }}
{{- $region := .Values.contactCenter.region }}
{{- $tag := printf "region:%s" $region }}
{{- $config := .Values.nats.config }}
{{- if not (has $tag ($config.merge.server_tags | default list)) }}
{{- fail (printf "nats.config.merge.server_tags must contain %q (contactCenter.region is %q), got %v" $tag $region ($config.merge.server_tags | default list)) }}
{{- end }}
{{- if and $config.cluster.enabled (ne ($config.cluster.merge.name | default "") $region) }}
{{- fail (printf "nats.config.cluster.merge.name must be the region %q, got %q" $region ($config.cluster.merge.name | default "")) }}
{{- end }}
{{- if $config.gateway.enabled }}
{{- if ne ($config.gateway.merge.name | default "") $region }}
{{- fail (printf "nats.config.gateway.merge.name must be the region %q, got %q" $region ($config.gateway.merge.name | default "")) }}
{{- end }}
{{- end }}
{{- $labels := ((.Values.nats.podTemplate.merge.metadata | default dict).labels | default dict) }}
{{- if ne (get $labels "contactcenter.dev/region" | default "") $region }}
{{- fail (printf "nats.podTemplate.merge.metadata.labels must set contactcenter.dev/region: %s (the region's NetworkPolicy admits only those NATS pods)" $region) }}
{{- end }}
{{- end }}
{{- end -}}
